"""Listening-history files of services other than Spotify, read row by row into bronze.

Spotify's exports are JSON arrays of flat records (formats.py, read by jsonarray.py in C). The other
services deliver CSV, JSON pages, JSON lines, HTML and spreadsheets, so each of their formats is a
`RowFormat`: a test on the file's first bytes (recognised by content, never by name) and a reader
that turns the whole file into batches of rows for its own bronze table. The loader (loader.py)
does the rest the same way for every format: one transaction, COPY, the manifest, re-imports that
change nothing, and an ImportProblem that names the file and record and loads nothing of it.

Bronze stays raw: a reader types the values it must (times, numbers) and keeps every other field of
the record in a jsonb column, except the privacy fields (IP addresses, e-mail, device and account
ids), which it drops and names in the import report (`ReadContext.dropped`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

from tracktracker_assets.exports.errors import ImportProblem

# A batch is a list of rows; a row is a tuple of the format's `columns`, in order. Values: None,
# bool, int, float, str, datetime (aware, or naive meaning UTC); a jsonb column takes the JSON text
# (`json_text(value)`), never a dict.
Row = tuple[Any, ...]
BATCH_ROWS = 5_000
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Head:
    """The first bytes of a file (at most SNIFF_BYTES), for telling its format."""

    name: str
    data: bytes
    complete: bool  # the whole file is in `data`

    @property
    def text(self) -> str:
        """The bytes as text (UTF-8, BOM dropped; bytes that are no UTF-8 replaced)."""
        return self.data.removeprefix(BOM).decode("utf-8", errors="replace")

    @property
    def first_line(self) -> str:
        return self.text.lstrip().split("\n", 1)[0].rstrip("\r")

    def csv_header(self, delimiter: str = ",") -> list[str]:
        """The first CSV line's fields, stripped ([] if the text is no CSV)."""
        try:
            row = next(csv.reader(io.StringIO(self.first_line), delimiter=delimiter), [])
        except csv.Error:
            return []
        return [cell.strip() for cell in row]

    def starts_with(self, *prefixes: bytes) -> bool:
        body = self.data.removeprefix(BOM).lstrip(b" \t\r\n")
        return any(body.startswith(p) for p in prefixes)


@dataclass
class ReadContext:
    """What a reader needs besides the bytes, and what it tells the import report."""

    name: str  # the file as the person named it (`archive.zip:entry` inside a ZIP)
    # notes for the import report, one sentence each ("412 entries are plain YouTube, not music")
    notes: list[str] = field(default_factory=list)
    # privacy fields the file carried and bronze does not keep
    dropped: set[str] = field(default_factory=set)
    # other files of the same import (the ZIP's other members, files dropped together), for readers
    # whose rows are completed by another file: name -> a function opening it (a binary file object,
    # to use in `with`); a ZIP member comes whole in memory
    siblings: dict[str, Callable[[], IO[bytes]]] = field(default_factory=dict)
    # what a reader of one piece of a file counted for the report of the whole file (`Pieces`)
    tally: Any = None

    def problem(self, problem: str, *, record: int | None = None, hint: str | None = None) -> ImportProblem:
        """An ImportProblem about this file (raise it): nothing of the file is loaded."""
        return ImportProblem(self.name, problem, record=record, hint=hint)


Reader = Callable[[IO[bytes], ReadContext], Iterator[list[Row]]]


@dataclass(frozen=True)
class Pieces:
    """How a CSV format is read in pieces by several processes (exports/pieces.py cuts the file at
    line ends outside quotes and puts the header line in front of each piece).

    `read` reads one piece like a whole file, but instead of adding its report notes leaves what it
    counted for them in `context.tally`; `report` turns the tallies of every piece, in file order,
    into the notes of the whole file. Both are module-level functions (a worker process imports them).
    """

    read: Reader
    report: Callable[[list[Any], ReadContext], None]


@dataclass(frozen=True)
class RowFormat:
    """One listening-history file format of another service and the bronze table it loads into."""

    name: str  # in the manifest (bronze.loaded_files.format), e.g. "lastfm_lastfmstats_json"
    description: str  # for people: "Last.fm scrobbles (lastfmstats.com JSON)"
    service: str  # apple_music | youtube_music | lastfm | listenbrainz | deezer | tidal
    table: str  # bronze table, schema-qualified
    columns: tuple[str, ...]  # the bronze columns a row fills, in order; user_id and load_id are added
    time_column: str  # each row's time: the loaded range in the manifest and the plausibility check
    sniff: Callable[[Head], bool]  # is this file of this format (first bytes only, cheap)
    read: Reader
    # a time before this is no possible listening (Audioscrobbler, Last.fm's origin, began in 2002)
    earliest: datetime = datetime(2002, 1, 1, tzinfo=UTC)
    # "plays": rows are listening; "hints": rows only complete other rows (Apple's library names the
    # artist that 2022+ Play Activity lacks) and are never counted as plays
    kind: str = "plays"
    # set when big files of this format may be read in pieces, in parallel
    pieces: Pieces | None = None


@dataclass(frozen=True)
class NotHistory:
    """A file of a known service that holds no listening history: refused with what it is."""

    what: str  # "an Apple Music library export (Apple Music Library Tracks.json)"
    hint: str  # what to import instead
    sniff: Callable[[Head], bool]


_JSON = msgspec.json.Encoder(enc_hook=str)


def json_text(value: Any) -> str | None:
    """A jsonb column's value: compact JSON text (None stays NULL; values JSON has no type for, such
    as dates, as their text)."""
    if value is None:
        return None
    return _JSON.encode(value).decode()


def batched(rows: Iterator[Row], size: int = BATCH_ROWS) -> Iterator[list[Row]]:
    """Rows in batches for COPY, so parsing and loading overlap in bounded memory."""
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def text_stream(raw: IO[bytes], context: ReadContext, *, encoding: str = "utf-8-sig") -> IO[str]:
    """The file as text; bytes that are not `encoding` raise an ImportProblem naming the offset.

    Decoding errors surface while reading, so a reader iterating the stream should let
    UnicodeDecodeError through `decode_problem`.
    """
    return io.TextIOWrapper(raw, encoding=encoding, newline="")  # type: ignore[arg-type]


def decode_problem(
    context: ReadContext, exc: UnicodeDecodeError, *, record: int | None = None
) -> ImportProblem:
    return context.problem(
        f"not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}).",
        record=record,
        hint="Use the file exactly as the service delivered it, not one re-saved in another encoding.",
    )
