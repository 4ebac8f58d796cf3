"""Apple's CSV files as records: header recognition, strict row shape, and the typed values they hold.

Apple delivers UTF-8 CSV with a quoted or unquoted header; people often open and re-save them in
Excel, which changes TRUE/FALSE case, drops quotes, writes big numbers in scientific notation and
leaves off the last newline. All of that is read the same. What cannot be read (another encoding, a
row with more or fewer fields than the header, a header without rows) is refused naming the file,
the record and what to do, so nothing of a damaged file reaches bronze.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO

from tracktracker_assets.exports.rowformats import Head, ReadContext

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
AS_DELIVERED = (
    "Use the file exactly as Apple delivered it (Apple_Media_Services.zip from privacy.apple.com), "
    "not one re-saved in another encoding or cut short."
)


def header_of(head: Head) -> list[str]:
    """The CSV header of a file's first bytes, also when the file was re-saved as UTF-16.

    A UTF-16 file is still recognised (as what it is), so that its reader can refuse it with the
    reason instead of the file being "of no known format".
    """
    if head.data.startswith(UTF16_BOMS):
        text = head.data.decode("utf-16", errors="replace")
        line = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
        return [cell.strip() for cell in next(csv.reader(io.StringIO(line)), [])]
    return head.csv_header()


class Record(dict[str, str]):
    """One CSV record by header name, with its number (1 = the first after the header) and line."""

    number: int
    line: int


class Rows:
    """The file's records as lists of fields in the header's order, each checked to have exactly the
    header's fields; `number` and `line` are those of the record last yielded.

    The reader of files of millions of records (Play Activity) takes fields by position from these;
    `records` gives them by name.
    """

    def __init__(self, raw: IO[bytes], context: ReadContext, what: str) -> None:
        """`what` names the file's kind for messages ("Apple Music Play Activity")."""
        self._raw, self._context, self._what = raw, context, what
        self.header: list[str] = []
        self.number = 0
        self.line = 0

    def __iter__(self) -> Iterator[list[str]]:
        context, what = self._context, self._what
        start = self._raw.read(2)
        if start in UTF16_BOMS:
            raise context.problem(
                f"this {what} file is UTF-16 text (re-saved by a spreadsheet program); Apple delivers UTF-8.",
                hint=AS_DELIVERED,
            )
        reader = csv.reader(_lines(io.BufferedReader(_Prefixed(start, self._raw), 1 << 16)), strict=True)
        try:
            self.header = header = [cell.strip() for cell in next(reader, [])]
            if not any(header):
                raise context.problem(f"the {what} file is empty.", hint=AS_DELIVERED)
            width = len(header)
            for row in reader:
                if not row or row == [""]:
                    continue  # a blank line (an Excel-resaved file's trailing one) is no record
                if len(row) != width:
                    self.number += 1
                    raise context.problem(
                        f"line {reader.line_num} has {len(row)} fields where the header has {width}: "
                        "the file is cut short or damaged.",
                        record=self.number,
                        hint=AS_DELIVERED,
                    )
                self.number += 1
                self.line = reader.line_num
                yield row
        except UnicodeDecodeError as exc:
            raise context.problem(
                # the reader counts the lines it was given: the one that failed to decode is the next
                f"line {reader.line_num + 1} is not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}).",
                record=self.number + 1,
                hint=AS_DELIVERED,
            ) from exc
        except csv.Error as exc:
            raise context.problem(
                f"line {reader.line_num} is no valid CSV ({exc}).", record=self.number + 1, hint=AS_DELIVERED
            ) from exc
        if self.number == 0:
            raise context.problem(
                f"the {what} file has a header but no rows: nothing to import.",
                hint="Import the complete file from your Apple data export.",
            )


def records(raw: IO[bytes], context: ReadContext, what: str) -> Iterator[Record]:
    """The file's records by header name, each checked to have exactly the header's fields.

    `what` names the file's kind for messages ("Apple Music Play Activity").
    """
    rows = Rows(raw, context, what)
    for row in rows:
        record = Record(zip(rows.header, row, strict=True))
        record.number = rows.number
        record.line = rows.line
        yield record


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one by one (in C), so bytes that are no UTF-8 are found on
    their own line (a decoder reading ahead in blocks would blame an earlier record)."""
    first = map(operator.methodcaller("decode", "utf-8-sig"), itertools.islice(stream, 1))
    return itertools.chain(first, map(operator.methodcaller("decode", "utf-8"), stream))


class _Prefixed(io.RawIOBase):
    """A byte stream with bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# -- values ------------------------------------------------------------------------------------------


def text(record: Record, name: str) -> str | None:
    """A field's text as written (Apple's "N/A" too: staging reads it as unknown), None when empty."""
    value = (record.get(name) or "").strip()
    return value or None


def timestamp(record: Record, name: str, context: ReadContext) -> datetime | None:
    """An ISO 8601 time (Apple writes UTC with a Z); naive means UTC."""
    value = text(record, name)
    if value is None or value == "N/A":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise context.problem(
            f"line {record.line}: {name} {value!r} is no date and time "
            "(expected like 2020-06-24T00:02:11.022Z).",
            record=record.number,
            hint=AS_DELIVERED,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def integer(record: Record, name: str, context: ReadContext) -> int | None:
    """A whole number; Apple writes some as 186000.0 and Excel big ones as 1.2E+5."""
    value = text(record, name)
    if value is None or value == "N/A":
        return None
    try:
        return int(value) if value.lstrip("-").isdigit() else int(float(value))
    except (ValueError, OverflowError):
        raise context.problem(
            f"line {record.line}: {name} {value!r} is no number.", record=record.number, hint=AS_DELIVERED
        ) from None


def boolean(record: Record, name: str) -> bool | None:
    """true/false in any case (Excel writes TRUE); anything else unknown."""
    value = (text(record, name) or "").lower()
    return {"true": True, "false": False}.get(value)


def day(record: Record, name: str, context: ReadContext) -> date | None:
    """A YYYYMMDD day (Daily Tracks' Date Played)."""
    value = text(record, name)
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise context.problem(
            f"line {record.line}: {name} {value!r} is no day (expected YYYYMMDD like 20241231).",
            record=record.number,
            hint=AS_DELIVERED,
        ) from None
