"""Streaming reader for a top-level JSON array of flat records, in bounded memory.

Spotify history files are one JSON array (files of 12 MB, but people merge them into one of gigabytes).
We read fixed-size chunks and cut each at the last `}` that closes a top-level element, proven by
decoding `[` + prefix + `]`: a cut inside a string or a nested value cannot decode, so a successful
decode is a real element boundary. msgspec decodes and validates a chunk straight into typed structs
in C, several times faster than a per-event parser; memory stays about two chunks whatever the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from tracktracker_assets.exports.errors import RE_EXPORT_HINT, ImportProblem
from tracktracker_assets.exports.formats import TIMESTAMP_EXAMPLES, Format, describe_object, detect_by_keys

CHUNK_BYTES = 256 << 10
MAX_RECORD_BYTES = 4 << 20
SNIFF_BYTES = 1 << 20
MAX_OBJECT_FILE_BYTES = 64 << 20
BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
_PATH = re.compile(r" - at `\$\[(\d+)\](?:\.(\w+))?`$")
_BYTE = re.compile(r"\(byte (\d+)\)")

_any_list = msgspec.json.Decoder(list[Any])
_dict_list = msgspec.json.Decoder(list[dict[str, Any]])
_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode


def _skip_separator(buf: bytearray, end: int) -> tuple[int, bool] | None:
    """After a record ending at buf[end]: (index past the whitespace and ',' that follow, whether the
    separator was seen). Not seen means the data read so far ended first. None if malformed."""
    i, n = end, len(buf)
    while i < n and buf[i] in _WS:
        i += 1
    if i == n:
        return i, False
    if buf[i] == 0x2C:  # ','
        return i + 1, True
    if buf[i] == 0x5D:  # the closing ']'
        return i, True
    return None


def _looks_like_boundary(buf: bytearray, end: int) -> bool:
    """Whether '}' at end-1 is followed by `, {` / `]` (or the end of the data read so far)."""
    i, n = end, len(buf)
    while i < n and buf[i] in _WS:
        i += 1
    if i == n or buf[i] == 0x5D:
        return True
    if buf[i] != 0x2C:
        return False
    i += 1
    while i < n and buf[i] in _WS:
        i += 1
    return i == n or buf[i] == 0x7B


@dataclass
class Batch:
    records: list[msgspec.Struct]
    # unknown keys per record (only when a record had any), aligned with records
    extras: list[dict[str, Any] | None] | None
    first_index: int  # 0-based index in the file's array of records[0]


@dataclass(frozen=True)
class Sniffed:
    format: Format | None  # None: an empty array
    first_keys: frozenset[str]


def _shape_of(first: bytes) -> str:
    return {
        b'"': "strings",
        b"[": "arrays",
        b"t": "booleans",
        b"f": "booleans",
        b"n": "nulls",
    }.get(first[:1], "numbers")


def _magic(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (import the .zip itself, or its JSON files)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head[:1] in (b"<",):
        return "an HTML/XML document"
    return "not JSON"


def _check_utf8(data: bytes, base_offset: int, name: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblem(
            name,
            f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at byte offset {base_offset + exc.start}.",
            hint="Spotify writes UTF-8; use the original file, not one re-saved in another encoding.",
        ) from None


def sniff(head: bytes, *, complete: bool, name: str, read_rest: Any = None) -> Sniffed:
    """Tell the format from the first bytes of a file. Raises ImportProblem for anything else."""
    body = head[len(BOM) :] if head.startswith(BOM) else head
    body = body.lstrip(_WS)
    if not body:
        raise ImportProblem(name, "the file is empty.", hint=RE_EXPORT_HINT)
    if body[:1] == b"{":
        raise ImportProblem(
            name, _describe_object_file(body, complete, name, read_rest), hint=_wrong_file_hint()
        )
    if body[:1] != b"[":
        raise ImportProblem(
            name,
            f"this is {_magic(body)}, not a Spotify streaming history JSON file.",
            hint=_wrong_file_hint(),
        )
    inner = body[1:].lstrip(_WS)
    if inner[:1] == b"]":
        return Sniffed(format=None, first_keys=frozenset())
    if not inner:
        raise ImportProblem(name, "the file is truncated: it ends right after '['.", hint=RE_EXPORT_HINT)
    if inner[:1] != b"{":
        raise ImportProblem(
            name,
            f"wrong shape: the JSON array holds {_shape_of(inner)}, not listening records.",
            hint=_wrong_file_hint(),
        )
    keys = _first_record_keys(inner, complete, name)
    fmt = detect_by_keys(keys)
    if fmt is None:
        raise ImportProblem(
            name,
            "wrong shape: the records have neither `ts`+`ms_played` (Extended streaming history) nor "
            f"`endTime`+`msPlayed` (Account data); the first record has keys {', '.join(sorted(keys))}.",
            hint=_wrong_file_hint(),
            record=1,
        )
    return Sniffed(format=fmt, first_keys=frozenset(keys))


def _wrong_file_hint() -> str:
    return (
        "Import the files named like endsong_N.json, Streaming_History_Audio_*.json, "
        "Streaming_History_Video_*.json or StreamingHistory*.json, or the whole ZIP from Spotify."
    )


def _first_record_keys(inner: bytes, complete: bool, name: str) -> set[str]:
    pos = 0
    while True:
        pos = inner.find(b"}", pos) + 1
        if pos == 0:
            break
        try:
            first = _dict_list.decode(b"[" + inner[:pos] + b"]")
        except msgspec.ValidationError:
            break
        except msgspec.DecodeError:
            continue
        except UnicodeDecodeError:
            _check_utf8(inner[:pos], 0, name)
        if first:
            return set(first[0])
    if complete:
        raise ImportProblem(
            name,
            "the file is truncated or not valid JSON in its first record.",
            hint=RE_EXPORT_HINT,
            record=1,
        )
    raise ImportProblem(
        name,
        f"the first record is not a flat JSON object of at most {SNIFF_BYTES} bytes.",
        hint=_wrong_file_hint(),
        record=1,
    )


def _describe_object_file(body: bytes, complete: bool, name: str, read_rest: Any) -> str:
    data = body if complete else (read_rest(MAX_OBJECT_FILE_BYTES) if read_rest else None)
    try:
        value = _any.decode(data) if data is not None else None
    except (msgspec.DecodeError, UnicodeDecodeError):
        value = None
    if isinstance(value, dict):
        keys = set(value)
        if {"ts", "ms_played"} <= keys or {"endTime", "msPlayed"} <= keys:
            return "wrong shape: a single listening record; expected a JSON array of records."
        return f"this is {describe_object(keys)}, not a streaming history (expected a JSON array of records)."
    return "wrong shape: a JSON object, not the JSON array of records a streaming history file holds."


class ArrayReader:
    """Yields typed batches of a file's records; raises ImportProblem naming file and record."""

    def __init__(self, stream: IO[bytes], name: str, fmt: Format, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self._name = name
        self._fmt = fmt
        self._chunk_bytes = chunk_bytes
        self._strict = msgspec.json.Decoder(list[fmt.record_type])  # type: ignore[name-defined]
        self.records_read = 0
        self.bytes_read = 0

    def batches(self) -> Iterator[Batch]:
        # buf[0] is always the '[' that frames a batch, so a cut decodes in place without copying
        buf = self._read_start()
        offset = self.bytes_read - (len(buf) - 1)  # file offset of buf[1]
        separator_due = False  # a record ended exactly at the end of the data read so far
        while True:
            data = self._stream.read(self._chunk_bytes)
            self.bytes_read += len(data)
            buf += data
            if separator_due and len(buf) > 1:
                skipped = _skip_separator(buf, 1)
                if skipped is None:
                    self._malformed(offset)
                skip, seen = skipped
                separator_due = not seen
                del buf[1:skip]
                offset += skip - 1
            if not data:
                yield from self._finish(buf, offset)
                return
            cut = self._cut(buf, offset)
            if cut is None:
                if len(buf) > self._chunk_bytes + MAX_RECORD_BYTES:
                    raise ImportProblem(
                        self._name,
                        f"no complete record within {MAX_RECORD_BYTES >> 20} MB after byte offset {offset}: "
                        "this is not an array of flat listening records.",
                        hint=_wrong_file_hint(),
                        record=self.records_read + 1,
                    )
                continue
            end, batch = cut
            yield batch
            skipped = _skip_separator(buf, end)
            if skipped is None:
                self._malformed(offset + end - 1)
            skip, seen = skipped
            separator_due = not seen
            del buf[1:skip]
            offset += skip - 1

    def _read_start(self) -> bytearray:
        head = self._stream.read(self._chunk_bytes)
        self.bytes_read += len(head)
        if head.startswith(BOM):
            head = head[len(BOM) :]
        head = head.lstrip(_WS)
        if head[:1] != b"[":
            raise ImportProblem(self._name, "not a JSON array.", hint=_wrong_file_hint())
        return bytearray(head)

    def _cut(self, buf: bytearray, offset: int) -> tuple[int, Batch] | None:
        """Decode buf[:end] + ']' for the largest `end` after a record: (end, batch) or None."""
        pos = len(buf)
        attempts = 0
        while True:
            pos = buf.rfind(b"}", 1, pos)
            if pos < 0:
                return None
            end = pos + 1
            if not _looks_like_boundary(buf, end):
                continue  # a '}' inside a value ("Song {Live}"): not worth a decode attempt
            attempts += 1
            try:
                return end, self._decode_framed(buf, end, offset)
            except msgspec.DecodeError as exc:
                # "truncated", or an error at the very end: the cut fell inside the next record
                at = _BYTE.search(str(exc))
                if at is not None and int(at.group(1)) < end:
                    self._malformed(offset + int(at.group(1)) - 1)
                if attempts > 64:
                    self._malformed(offset)

    def _decode_framed(self, buf: bytearray, end: int, offset: int) -> Batch:
        """Decode buf[0:end] closed by a ']' written over buf[end] for the duration of the call."""
        appended = end == len(buf)
        if appended:
            buf.append(0x5D)
            saved = None
        else:
            saved = buf[end]
            buf[end] = 0x5D
        try:
            with memoryview(buf) as view, view[: end + 1] as framed:
                return self._decode(framed, offset)
        finally:
            if appended:
                buf.pop()
            else:
                buf[end] = saved  # type: ignore[assignment]

    def _finish(self, buf: bytearray, offset: int) -> Iterator[Batch]:
        end = len(buf.rstrip(_WS))
        if end < 2 or buf[end - 1] != 0x5D:
            raise ImportProblem(
                self._name,
                f"the file is truncated: it ends at byte {self.bytes_read} inside record "
                f"{self.records_read + 1}, before the closing ']'.",
                hint=RE_EXPORT_HINT,
                record=self.records_read + 1,
            )
        body = bytes(buf[1 : end - 1]).rstrip(_WS).removesuffix(b",")
        if body.strip(_WS):
            try:
                yield self._decode(b"[" + body + b"]", offset)
            except msgspec.DecodeError as exc:
                at = _BYTE.search(str(exc))
                self._malformed(offset + (int(at.group(1)) - 1 if at else 0))

    def _decode(self, framed: bytes | memoryview, offset: int) -> Batch:
        first = self.records_read
        try:
            records = self._strict.decode(framed)
            extras = None
        except msgspec.ValidationError as exc:
            if "unknown field" not in str(exc):
                raise self._invalid(exc, first, framed=framed) from None
            records, extras = self._decode_lenient(framed, first)
        except UnicodeDecodeError:
            _check_utf8(bytes(framed[1:]), offset, self._name)
            raise
        self.records_read += len(records)
        return Batch(records=records, extras=extras, first_index=first)

    def _decode_lenient(
        self, wrapped: bytes | memoryview, first: int
    ) -> tuple[list[msgspec.Struct], list[dict | None]]:
        """Records with keys we do not know: keep those keys aside for the `extra` column."""
        try:
            raw = _dict_list.decode(wrapped)
        except msgspec.ValidationError as exc:
            raise self._invalid(exc, first) from None
        known = self._fmt.known_fields
        records: list[msgspec.Struct] = []
        extras: list[dict[str, Any] | None] = []
        for i, item in enumerate(raw):
            extra = {k: v for k, v in item.items() if k not in known}
            try:
                records.append(
                    msgspec.convert({k: v for k, v in item.items() if k in known}, self._fmt.record_type)
                )
            except msgspec.ValidationError as exc:
                raise self._invalid(exc, first, index=i, record=item) from None
            extras.append(extra or None)
        return records, extras

    def _invalid(
        self,
        exc: msgspec.ValidationError,
        first: int,
        index: int | None = None,
        *,
        framed: bytes | memoryview | None = None,
        record: dict[str, Any] | None = None,
    ) -> ImportProblem:
        message = str(exc)
        field = None
        match = _PATH.search(message)
        if match:
            index = int(match.group(1)) if index is None else index
            field = match.group(2)
            message = message[: match.start()]
        elif " - at `$." in message:  # from msgspec.convert on one record
            message, _, path = message.partition(" - at `$.")
            field = path.rstrip("`")
        number = first + (index or 0) + 1
        if field in TIMESTAMP_EXAMPLES and "missing required field" not in message:
            value = _raw_value(framed, index, field) if record is None else record.get(field)
            shown = _encode(value).decode()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            problem = (
                f"field `{field}`: {shown} is not a timestamp; expected an ISO 8601 date and time like "
                f'"{TIMESTAMP_EXAMPLES[field]}", as Spotify writes it.'
            )
        elif "Expected `object`" in message:
            problem = f"wrong shape: {message.replace('Expected `object`, got', 'expected a record, got a')}."
        elif "missing required field" in message:
            problem = f"wrong shape: {message.replace('Object missing', 'the record lacks the')}."
        else:
            problem = f"field `{field}`: {message}." if field else message + "."
        return ImportProblem(
            self._name,
            problem,
            hint="Nothing of this file was loaded; fix or remove that record, or use the original export.",
            record=number,
        )

    def _malformed(self, at: int) -> None:
        raise ImportProblem(
            self._name,
            f"malformed JSON near byte offset {max(at, 0)} (after record {self.records_read}).",
            hint=RE_EXPORT_HINT,
            record=self.records_read + 1,
        )


def _raw_value(framed: bytes | memoryview | None, index: int | None, field: str) -> Any:
    """The value as written in the file, to show it in the error (only on the error path)."""
    if framed is None or index is None:
        return None
    try:
        return _dict_list.decode(framed)[index].get(field)
    except (msgspec.DecodeError, IndexError):
        return None
