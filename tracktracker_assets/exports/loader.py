"""Load one export file into bronze: one transaction, streamed through COPY, recorded in the manifest.

A parser thread turns the file into CSV batches while the connection streams the previous batch to
PostgreSQL, so parsing (Python, one core) and COPY (the server process, the other core) overlap.
A bad file raises ImportProblem before commit: nothing of it is written, earlier loads stay intact.
A database that fails meanwhile (connection lost, disk full) raises ServiceProblem: rolled back just
the same, and not the file's fault.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec
import psycopg2
import psycopg2.errors

from tracktracker_assets.exports import catalogue, pieces
from tracktracker_assets.exports.errors import ImportProblem, ServiceProblem
from tracktracker_assets.exports.formats import ACCOUNT, EXTENDED, Format
from tracktracker_assets.exports.jsonarray import SNIFF_BYTES, ArrayReader, sniff
from tracktracker_assets.exports.rowformats import Head, ReadContext, RowFormat
from tracktracker_assets.exports.sources import Source, is_workbook, is_zip
from tracktracker_assets.warehouse.identity import event_identity
from tracktracker_assets.warehouse.locks import bronze_write, next_load_id

Progress = Callable[[int, int], None]  # (records read, bytes read)
AnyFormat = Format | RowFormat
# the other files of the same import (a ZIP's members, files dropped together): name -> opener
Siblings = dict[str, Callable[[], Any]]

# Columns that identify one listening event within a format: rows agreeing on all of them are the
# same event seen twice (the same export loaded twice, overlapping exports). Written once, in dbt's
# `event_identity` var, which the staging models hash into play_id.
EVENT_KEY: dict[str, tuple[str, ...]] = {fmt.name: event_identity(fmt.table) for fmt in (EXTENDED, ACCOUNT)}
# Spotify began in 2006; a play before that, or more than a day ahead of this clock, is a broken value
# (a zeroed or hand-typed date), not listening, and would fall outside dim_date.
EARLIEST_PLAY = datetime(2006, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
FIX_RECORD_HINT = "Nothing of this file was loaded; fix or remove that record, or use the original export."
# SQLSTATE classes that mean a value of the file was refused (data exception, integrity, a program
# limit such as a value too large to index); every other error is the database's, not the file's
FILE_FAULT_CLASSES = ("22", "23", "54")


@dataclass
class FileResult:
    name: str
    sha256: str
    status: str  # loaded | already_loaded | no_new_records | empty | skipped | rejected
    format: str | None = None
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    message: str = ""
    # what the reader wants the person to know (rows left aside, fields not stored)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


def sha256_of(source: Source) -> str:
    digest = hashlib.sha256()
    with source.open() as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _loaded(conn: Any, user_id: str, sha256: str) -> tuple | None:
    with conn.cursor() as cur:
        cur.execute(
            "select format, records, inserted, loaded_at from bronze.loaded_files "
            "where user_id = %s and sha256 = %s",
            (user_id, sha256),
        )
        return cur.fetchone()


def _already(name: str, sha: str, done: tuple) -> FileResult:
    return FileResult(
        name,
        sha,
        "already_loaded",
        format=done[0],
        records=done[1],
        message=f"already loaded on {done[3]:%Y-%m-%d %H:%M} UTC ({done[1]} records): nothing to do.",
    )


def already_loaded(conn: Any, user_id: str, paths: list[Path]) -> list[FileResult] | None:
    """What loading these files would say when every one of them is a file (no ZIP: which of its
    members hold history is the loader's to find) this listener has loaded before; else None.

    Lets an import that changes nothing say so without starting a run: the same sha256 test and the
    same message as the load's own (`_loaded`, `_already`).
    """
    results = []
    for path in paths:
        if is_zip(path) and not is_workbook(path):
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        sha = digest.hexdigest()
        done = _loaded(conn, user_id, sha)
        if done is None:
            return None
        results.append(_already(path.name, sha, done))
    return results


def detect(source: Source) -> AnyFormat | None:
    """The source's format; None for an empty array. Raises ImportProblem for anything else.

    Spotify's formats are tried first (JSON arrays told apart by their keys); a file that is none of
    them is offered to the other services' formats, then to their known files that hold no history.
    """
    with source.open() as stream:
        head = stream.read(SNIFF_BYTES)
        complete = len(head) < SNIFF_BYTES
        try:
            sniffed = sniff(
                head, complete=complete, name=source.name, read_rest=lambda n: head + stream.read(n)
            )
        except ImportProblem as not_spotify:
            return other_service_format(Head(source.name, head, complete), not_spotify)
    return sniffed.format


def other_service_format(head: Head, not_spotify: ImportProblem) -> RowFormat:
    """The other service's format of a file that is no Spotify history; ImportProblem if none."""
    if (fmt := catalogue.row_format_of(head)) is not None:
        return fmt
    if (other := catalogue.not_history_of(head)) is not None:
        raise ImportProblem(head.name, f"this is {other.what}, not listening history.", hint=other.hint)
    body = head.data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise ImportProblem(
            head.name,
            "the file is empty.",
            hint="Download the export again from the service; this copy holds nothing.",
        )
    if body[:1] in (b"[", b"{"):
        raise not_spotify  # JSON: Spotify's reading of it says best what is wrong
    raise ImportProblem(head.name, not_spotify.problem, record=not_spotify.record, hint=UNKNOWN_FILE_HINT)


UNKNOWN_FILE_HINT = (
    "Import Spotify's history (endsong_N.json, Streaming_History_*.json, StreamingHistory*.json or its "
    "ZIP), Apple Music's Apple_Media_Services.zip or Play Activity CSV, YouTube's Takeout "
    "watch-history.json or .html, a Last.fm export (lastfmstats, ghan, lastfm-to-csv), a ListenBrainz "
    "export, Deezer's deezer-data_*.xlsx or Tidal's streaming.csv, as the service delivered it."
)


def _same_size_loaded(conn: Any, user_id: str, size: int) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "select 1 from bronze.loaded_files where user_id = %s and bytes = %s limit 1", (user_id, size)
        )
        return cur.fetchone() is not None


def make_durable(conn: Any) -> None:
    """Wait until every earlier commit of this session is on disk.

    Loads of a batch commit without waiting for their WAL flush (one fsync per file would cost more
    than the parsing); one synchronous commit that writes a commit record flushes all WAL before it.
    Callers move files out of the inbox only after this, so a crash can only leave files to reload.
    """
    with conn.cursor() as cur:
        cur.execute("set synchronous_commit = on")
        cur.execute("select txid_current()")
    conn.commit()


def load_source(
    conn: Any,
    user_id: str,
    source: Source,
    *,
    progress: Progress | None = None,
    durable: bool = True,
    siblings: Siblings | None = None,
) -> FileResult:
    """Load one history file of a user. Commits on success; raises ImportProblem (rolled back) if bad.

    The file is hashed while it is parsed. Only when a file of the same size was loaded before is it
    hashed up front, so that re-importing a file is a no-op without parsing it. With durable=False the
    commit does not wait for the disk: call make_durable before relying on it.
    """
    try:
        with _no_cycle_collection():
            return _load_source(conn, user_id, source, progress, durable, siblings or {})
    except psycopg2.Error as exc:
        rollback_quietly(conn)
        raise database_problem(source.name, exc) from None
    except BaseException:
        rollback_quietly(conn)
        raise


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing makes millions of short-lived rows and no reference cycles: the cycle collector would
    only walk them again and again (a tenth of the parse time), so it pauses for the load."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def rollback_quietly(conn: Any) -> None:
    """Roll back if the connection still lives (after it was lost there is nothing to roll back)."""
    with contextlib.suppress(psycopg2.Error):
        conn.rollback()


def database_problem(name: str, exc: psycopg2.Error) -> ImportProblem | ServiceProblem:
    """A value of the file that PostgreSQL refused (ImportProblem), or the database failing."""
    code = getattr(exc, "pgcode", None) or ""
    if code[:2] in FILE_FAULT_CLASSES:
        return _copy_problem(name, exc)
    detail = (getattr(exc, "pgerror", None) or str(exc) or type(exc).__name__).strip()
    first_line = detail.splitlines()[0].removeprefix("ERROR:").strip().rstrip(".")
    kept = "Nothing of this file was loaded and it stays in the inbox"
    if code == "53100" or "No space left on device" in detail:
        return ServiceProblem(
            f"{name}: PostgreSQL ran out of disk space while loading it ({first_line}). {kept}. "
            "Free some space on the disk holding the database, then run the import again.",
            disk_full=True,
        )
    # class 08: the connection; 57P: the server shutting down or crashed (57014 is a cancelled query)
    lost = code[:2] == "08" or code.startswith("57P")
    if lost or (not code and isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError)):
        return ServiceProblem(
            f"{name}: the connection to the warehouse database (PostgreSQL) was lost while loading it "
            f"({first_line}). {kept}. Start PostgreSQL again (`tracktracker up`, or the server of "
            "TRACKTRACKER_DATABASE_URL) and run the import again."
        )
    return ServiceProblem(
        f"{name}: the warehouse database (PostgreSQL) failed while loading it ({first_line}). {kept}. "
        "Check PostgreSQL's log, then run the import again."
    )


def _load_source(
    conn: Any, user_id: str, source: Source, progress: Progress | None, durable: bool, siblings: Siblings
) -> FileResult:
    if _same_size_loaded(conn, user_id, source.size):
        sha = sha256_of(source)
        if (done := _loaded(conn, user_id, sha)) is not None:
            return _already(source.name, sha, done)
    fmt = detect(source)
    if fmt is None:
        sha = sha256_of(source)
        if (done := _loaded(conn, user_id, sha)) is not None:
            return _already(source.name, sha, done)
        _record(
            conn,
            user_id,
            sha,
            source.name,
            "empty",
            source.size,
            0,
            0,
            0,
            None,
            None,
            next_load_id(conn),
            (None, None),
        )
        conn.commit()
        return FileResult(source.name, sha, "empty", message="holds no records (an empty array).")
    if isinstance(fmt, RowFormat):
        others = {name: opener for name, opener in siblings.items() if name != source.name}
        if fmt.pieces is not None and pieces.worth_it(source.size):
            try:
                context = ReadContext(source.name, siblings=others)
                return _load_rows(conn, user_id, source, fmt, context, progress, durable, in_pieces=True)
            except PieceProblem:
                # a piece was refused: reading the file in one piece names the record, counted from
                # the start of the file (or, if the piece's cut was the trouble, loads it)
                conn.rollback()
        context = ReadContext(source.name, siblings=others)
        return _load_rows(conn, user_id, source, fmt, context, progress, durable)
    return _load(conn, user_id, source, fmt, progress, durable)


def _load(
    conn: Any, user_id: str, source: Source, fmt: Format, progress: Progress | None, durable: bool
) -> FileResult:
    load_id = _begin_load(conn, durable)
    records, sha = _copy(conn, user_id, source, fmt, load_id, progress)
    if (done := _loaded(conn, user_id, sha)) is not None:  # same bytes, loaded before (or meanwhile)
        conn.rollback()
        return _already(source.name, sha, done)
    min_ts, max_ts = _span_of_load(conn, fmt, load_id)
    if records and (min_ts < EARLIEST_PLAY or max_ts > datetime.now(UTC) + FUTURE_SLACK):
        raise _implausible_time(source, fmt)
    return _finish(conn, user_id, source, fmt, load_id, sha, records, min_ts, max_ts, [])


def _begin_load(conn: Any, durable: bool) -> int:
    """Open the load's transaction as the one bronze writer (the duplicate check at its end sees every
    earlier load); its load id."""
    if not durable:
        with conn.cursor() as cur:
            cur.execute("set local synchronous_commit = off")
    return bronze_write(conn)


def _load_rows(
    conn: Any,
    user_id: str,
    source: Source,
    fmt: RowFormat,
    context: ReadContext,
    progress: Progress | None,
    durable: bool,
    *,
    in_pieces: bool = False,
) -> FileResult:
    """Load a file of another service: its reader's rows, checked and COPYed like Spotify's records.

    `in_pieces`: the file is read in pieces by worker processes (exports/pieces.py); a piece its
    reader refuses raises PieceProblem (the record's numbers would be the piece's, not the file's)."""
    load_id = _begin_load(conn, durable)
    with source.open() as raw:
        stream = _HashingStream(raw)
        rows = _RowChecker(fmt, context)
        statement = (
            f"copy {fmt.table} ({', '.join(fmt.columns)}, user_id, load_id) from stdin with {COPY_OPTIONS}"
        )
        tail = (user_id, load_id)

        def produce() -> Iterator[tuple[int, bytes]]:
            for batch in fmt.read(stream.buffered(), context):
                rows.check(batch)
                yield len(batch), rows_to_csv(batch, tail)
                if progress:
                    progress(rows.count, stream.bytes_read)

        def produce_in_pieces() -> Iterator[tuple[int, bytes]]:
            assert fmt.pieces is not None
            cut = pieces.cut(stream)
            first = next(cut, b"")
            header = pieces.header_line(first)
            bodies = itertools.chain((first[len(header) :],), cut)
            work = functools.partial(_read_piece, fmt.name, source.name, tail, header)
            tallies = []
            for piece in pieces.in_order(work, (b for b in bodies if not b.isspace()), pieces.workers()):
                if piece.problem is not None:
                    raise PieceProblem(source.name, piece.problem)
                rows.add(piece.count, piece.min_ts, piece.max_ts)
                context.dropped.update(piece.dropped)
                context.notes.extend(piece.notes)
                tallies.append(piece.tally)
                yield piece.count, piece.data
                if progress:
                    progress(rows.count, stream.bytes_read)
            fmt.pieces.report(tallies, context)

        _copy_stream(conn, statement, source.name, stream, produce_in_pieces if in_pieces else produce)
        sha = stream.digest.hexdigest()
    if (done := _loaded(conn, user_id, sha)) is not None:
        conn.rollback()
        return _already(source.name, sha, done)
    notes = list(context.notes)
    if context.dropped:
        notes.append("Not stored (private): " + ", ".join(sorted(context.dropped)) + ".")
    return _finish(conn, user_id, source, fmt, load_id, sha, rows.count, rows.min_ts, rows.max_ts, notes)


class _RowChecker:
    """Checks each row's time as it passes to COPY (a broken date is named by its row), and keeps the
    loaded range for the manifest."""

    def __init__(self, fmt: RowFormat, context: ReadContext) -> None:
        self._at = fmt.columns.index(fmt.time_column)
        self._fmt = fmt
        self._context = context
        self.count = 0
        self.min_ts: datetime | None = None
        self.max_ts: datetime | None = None

    def check(self, batch: list[tuple[Any, ...]]) -> None:
        moments = [row[self._at] for row in batch]
        try:  # the whole batch at once: one aware time each, all in range (the common case)
            low, high = min(moments), max(moments)
            careful = not (self._fmt.earliest <= low and high <= datetime.now(UTC) + FUTURE_SLACK)
        except TypeError:  # a row without a time, or one without a time zone
            careful = True
        if careful:
            self._check_each(moments)
            return
        if self.min_ts is None or low < self.min_ts:
            self.min_ts = low
        if self.max_ts is None or high > self.max_ts:
            self.max_ts = high
        self.count += len(batch)

    def add(self, count: int, low: datetime | None, high: datetime | None) -> None:
        """Rows checked elsewhere (a piece of the file, in a worker): `count` rows from low to high."""
        if low is not None and (self.min_ts is None or low < self.min_ts):
            self.min_ts = low
        if high is not None and (self.max_ts is None or high > self.max_ts):
            self.max_ts = high
        self.count += count

    def _check_each(self, moments: list[Any]) -> None:
        """Row by row: names the first row without a possible time; naive times are UTC."""
        latest = datetime.now(UTC) + FUTURE_SLACK
        earliest = self._fmt.earliest
        for i, moment in enumerate(moments):
            if moment is None or not isinstance(moment, datetime):
                raise self._context.problem(
                    f"row {self.count + i + 1} has no time ({self._fmt.time_column}).",
                    hint=FIX_RECORD_HINT,
                )
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if not earliest <= moment <= latest:
                raise self._context.problem(
                    f"time {moment.isoformat()} of row {self.count + i + 1} is no possible play time "
                    f"(before {earliest:%Y}, or in the future).",
                    hint=FIX_RECORD_HINT,
                )
            if self.min_ts is None or moment < self.min_ts:
                self.min_ts = moment
            if self.max_ts is None or moment > self.max_ts:
                self.max_ts = moment
        self.count += len(moments)


class PieceProblem(ImportProblem):
    """A piece of a file read in a worker was refused; its record numbers are the piece's own."""


@dataclass
class _Piece:
    """A piece of a file as a worker read it: its COPY input and what the loader adds up."""

    count: int = 0
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    data: bytes = b""
    dropped: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    tally: Any = None
    problem: str | None = None  # why the reader refused the piece (data is then empty)


def _read_piece(format_name: str, name: str, tail: tuple[Any, ...], header: bytes, body: bytes) -> _Piece:
    """One piece of a file, read in a worker process by its format's piece reader (header in front)."""
    fmt = catalogue.by_name(format_name)
    assert isinstance(fmt, RowFormat) and fmt.pieces is not None
    context = ReadContext(name)
    rows = _RowChecker(fmt, context)
    parts = []
    with _no_cycle_collection():
        try:
            for batch in fmt.pieces.read(io.BytesIO(header + body), context):
                rows.check(batch)
                parts.append(rows_to_csv(batch, tail))
        except ImportProblem as exc:
            return _Piece(problem=exc.problem)
    return _Piece(
        rows.count, rows.min_ts, rows.max_ts, b"".join(parts), context.dropped, context.notes, context.tally
    )


def _finish(
    conn: Any,
    user_id: str,
    source: Source,
    fmt: AnyFormat,
    load_id: int,
    sha: str,
    records: int,
    min_ts: datetime | None,
    max_ts: datetime | None,
    notes: list[str],
) -> FileResult:
    """Drop events earlier loads hold, record the file in the manifest, commit; the file's result."""
    duplicates = _drop_known_events(conn, user_id, fmt, load_id, min_ts, max_ts) if records else 0
    inserted = records - duplicates
    _record(
        conn,
        user_id,
        sha,
        source.name,
        fmt.name,
        source.size,
        records,
        inserted,
        duplicates,
        min_ts,
        max_ts,
        load_id,
        # a later export repeats a whole history for a few new plays: its records span all of it,
        # the rows it kept only their days
        _span_of_load(conn, fmt, load_id) if duplicates else (min_ts, max_ts),
    )
    conn.commit()
    if records == 0:
        status, message = "empty", "holds no listening records."
    elif inserted == 0:
        status, message = "no_new_records", f"all {records} records were already loaded: nothing new."
    else:
        status = "loaded"
        message = f"{inserted} new records" + (f", {duplicates} already loaded" if duplicates else "")
    return FileResult(
        source.name,
        sha,
        status,
        format=fmt.name,
        records=records,
        inserted=inserted,
        duplicates=duplicates,
        min_ts=min_ts,
        max_ts=max_ts,
        message=" ".join([message, *notes]),
        notes=notes,
    )


def _formats_of_table(fmt: AnyFormat) -> list[str]:
    """Every format loading into the same bronze table (a scrobble is the same in any Last.fm export)."""
    if isinstance(fmt, Format):
        return [fmt.name]
    return [other.name for other in catalogue.row_formats() if other.table == fmt.table]


def _drop_known_events(
    conn: Any, user_id: str, fmt: AnyFormat, load_id: int, min_ts: datetime, max_ts: datetime
) -> int:
    """Remove rows of this load that earlier loads already hold; returns how many.

    Only earlier loads of this user whose time range overlaps can hold the same events; the manifest
    names them, and the table's index on load_id reads just their rows: the cost follows the
    overlapping files, not the size of bronze.
    """
    with conn.cursor() as cur:
        cur.execute(
            "select array_agg(load_id) from bronze.loaded_files where user_id = %s "
            "and format = any(%s) and min_ts <= %s and max_ts >= %s",
            (user_id, _formats_of_table(fmt), max_ts, min_ts),
        )
        overlapping = cur.fetchone()[0]
        if not overlapping:
            return 0
        # fresh rows have no statistics yet; a nested loop over them would take hours
        cur.execute("set local enable_nestloop = off")
        time_col, *rest = event_identity(fmt.table)
        # equality on time (and Spotify's never-null ms_played) lets PostgreSQL hash-join; the
        # nullable rest is a filter
        equal = [time_col, rest.pop(0)] if isinstance(fmt, Format) else [time_col]
        match = " and ".join(
            [f"old.{c} = new.{c}" for c in equal] + [f"old.{c} is not distinct from new.{c}" for c in rest]
        )
        cur.execute(
            f"""
            delete from {fmt.table} new
            using {fmt.table} old
            where new.load_id = %(load_id)s
              and old.load_id = any(%(overlapping)s) and old.user_id = %(user_id)s
              and {match}
            """,
            {"load_id": load_id, "user_id": user_id, "overlapping": overlapping},
        )
        return cur.rowcount


def _span_of_load(conn: Any, fmt: AnyFormat, load_id: int) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest time (the first column of the rows' identity) among the rows this load
    holds in bronze now, through the table's index on load_id; none when it holds none. A date (Apple's
    daily tracks) is taken at its midnight, UTC."""
    time_col = event_identity(fmt.table)[0]
    with conn.cursor() as cur:
        cur.execute(
            f"select min({time_col})::timestamptz, max({time_col})::timestamptz from {fmt.table} "
            "where load_id = %s",
            (load_id,),
        )
        low, high = cur.fetchone()
    return low, high


def _record(
    conn: Any,
    user_id: str,
    sha: str,
    name: str,
    fmt: str,
    size: int,
    records: int,
    inserted: int,
    duplicates: int,
    min_ts: datetime | None,
    max_ts: datetime | None,
    load_id: int,
    inserted_span: tuple[datetime | None, datetime | None],
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "insert into bronze.loaded_files (user_id, sha256, file_name, format, bytes, records, inserted, "
            "duplicates, min_ts, max_ts, load_id, inserted_min_ts, inserted_max_ts) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (user_id, sha256) do nothing",
            (
                user_id,
                sha,
                name[-500:],
                fmt,
                size,
                records,
                inserted,
                duplicates,
                min_ts,
                max_ts,
                load_id,
                *inserted_span,
            ),
        )


# ---- COPY pipeline ----------------------------------------------------------------------------
#
# Rows go to COPY as CSV with backslash escapes and an unquoted `null` for NULL, which is what
# msgspec's JSON encoder writes for a tuple once its brackets become a separator and a newline.
# Each row is encoded in C straight into one buffer (encode_into), then its '[' and ']' overwritten,
# ~3x faster than the csv module and without rescanning the batch. A batch holding a JSON-only escape
# (\n, \u0001 ...), which CSV would read differently, is redone row by row in Python.

COPY_OPTIONS = "(format csv, escape '\\', null 'null')"
_END = object()
_COPY_LINE = re.compile(r"COPY \S+, line (\d+)(?:, column (\w+))?")
_ENCODER = msgspec.json.Encoder()
_encode = _ENCODER.encode
_encode_into = _ENCODER.encode_into
_MAYBE_UNSAFE = re.compile(rb'\\[^"\\]')


def _has_unsafe_escape(data: bytes) -> bool:
    """A JSON escape other than \" or \\ (say \n or \u0001), which CSV would read differently.
    Escaped backslashes pair up left to right, so dropping them leaves only escapes that start."""
    if b"\\" not in data:
        return False
    rest = data.replace(b"\\\\", b"")
    return rest.count(b"\\") != rest.count(b'\\"')


def _csv_value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rows_to_csv(rows: list[tuple[Any, ...]], tail: tuple[Any, ...] = ()) -> bytes:
    """CSV lines for whole rows, each followed by the `tail` columns (COPY names them last).

    Each row is JSON-encoded into one buffer, its '[' dropped and its ']' replaced by the tail and a
    line end: a JSON array's items are CSV fields as COPY_OPTIONS reads them. That holds unless a
    string holds an escape CSV reads differently; then each row is settled on its own (the careful
    path)."""
    if not rows:
        return b""
    end = (b"," + _encode(tail)[1:-1] if tail else b"") + b"\n"
    buf = bytearray()
    for row in rows:
        at = len(buf)
        _encode_into(row, buf, at)
        del buf[at]  # the '[' (only this row's bytes move)
        buf[-1:] = end
    data = bytes(buf)
    if b"\\" not in data or not _MAYBE_UNSAFE.search(data) or not _has_unsafe_escape(data):
        return data
    lines = []
    for row in rows:
        line = _encode(row)[1:-1]
        if b"\\" in line and _has_unsafe_escape(line):
            line = ",".join(map(_csv_value, row)).encode()
        lines.append(line + end)
    return b"".join(lines)


def batch_to_csv(
    records: list[msgspec.Struct], stored: int, head: tuple[Any, ...], extras: list[dict | None] | None
) -> bytes:
    """COPY input for a batch: each row is head + (extra JSON text or null) + the stored fields."""
    astuple = msgspec.structs.astuple
    buf = bytearray()
    if extras is None:
        prefix = _encode(head)[1:-1] + b",null"
        for record in records:
            buf += prefix
            at = len(buf)
            _encode_into(astuple(record)[:stored], buf, at)
            buf[at] = 0x2C  # '[' -> ','
            buf[-1] = 0x0A  # ']' -> newline
    else:
        for record, extra in zip(records, extras, strict=True):
            at = len(buf)
            _encode_into((*head, _encode(extra).decode() if extra else None), buf, at)
            del buf[at]  # the '['
            buf[-1] = 0x2C
            at = len(buf)
            _encode_into(astuple(record)[:stored], buf, at)
            buf[at] = 0x2C
            del buf[at]  # fields follow the ',' already written
            buf[-1] = 0x0A
    data = bytes(buf)
    if _MAYBE_UNSAFE.search(data) and _has_unsafe_escape(data):
        return rows_to_csv(
            [
                (*head, _encode(extra).decode() if extra else None, *astuple(record)[:stored])
                for record, extra in zip(records, extras or [None] * len(records), strict=True)
            ]
        )
    return data


class _HashingStream(io.RawIOBase):
    """Hands the parser the file's bytes and hashes them on the way (one pass over the file).

    A raw file object, so that readers can buffer and wrap it (`buffered()`: io.TextIOWrapper, csv,
    zipfile, readline); closing it leaves the file open, since the loader reads what a reader left (to
    hash the whole file) and closes the file itself.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self.digest.update(data)
        self.bytes_read += len(data)
        buffer[: len(data)] = data
        return len(data)

    def buffered(self) -> IO[bytes]:
        """The stream behind a 1 MB buffer (fast readline and small reads for the readers)."""
        return io.BufferedReader(self, 1 << 20)  # type: ignore[return-value]


class _CsvPipe(io.RawIOBase):
    """A file-like COPY reads from; a parser thread fills it with CSV batches (bounded queue).

    `produce` yields (records in the batch, its COPY input); any error it raises is handed to the
    COPY side, which aborts the statement.
    """

    def __init__(self, produce: Callable[[], Iterator[tuple[int, bytes]]]) -> None:
        super().__init__()
        self._produce_batches = produce
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=3)
        self._pending = b""
        self._at = 0  # how much of _pending COPY has read
        self._stop = threading.Event()
        self.error: BaseException | None = None
        # an interrupt (Ctrl-C, SIGTERM: Dagster's or Python's) raised while COPY waited in read():
        # psycopg2 reports it as the COPY failing ("error in .read() call"), which it is not
        self.interrupted: BaseException | None = None
        self.records = 0
        self._thread = threading.Thread(target=self._produce, name="tracktracker-parse", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        super().close()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for count, data in self._produce_batches():
                if not self._put(data):
                    return
                self.records += count
            self._put(_END)
        except BaseException as exc:  # handed to the COPY side, which aborts the statement
            self._put(exc)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(size)
        except BaseException as exc:
            if exc is not self.error:  # not the parser's error: raised in this thread, an interrupt
                self.interrupted = exc
            raise

    def _read(self, size: int) -> bytes:
        while self._at >= len(self._pending):
            item = self._queue.get()
            if item is _END:
                return b""
            if isinstance(item, BaseException):
                self.error = item
                raise item
            self._pending, self._at = item, 0
        if self._at == 0 and (size < 0 or size >= len(self._pending)):
            data = self._pending
        else:  # a part of a batch: the rest stays where it is (cutting it off would copy it each time)
            end = len(self._pending) if size < 0 else self._at + size
            data = self._pending[self._at : end]
        self._at += len(data)
        return data


def spotify_batches(
    reader: ArrayReader, prefix: tuple[Any, ...], fmt: Format, progress: Progress | None
) -> Callable[[], Iterator[tuple[int, bytes]]]:
    """COPY input of a Spotify file, batch by batch: each row the prefix, extras, stored fields."""
    stored = len(fmt.columns)

    def produce() -> Iterator[tuple[int, bytes]]:
        for batch in reader.batches():
            yield len(batch.records), batch_to_csv(batch.records, stored, prefix, batch.extras)
            if progress:
                progress(reader.records_read, reader.bytes_read)

    return produce


def copy_columns(fmt: Format) -> str:
    return ", ".join(("user_id", "load_id", "extra", *fmt.columns.values()))


def _copy(
    conn: Any, user_id: str, source: Source, fmt: Format, load_id: int, progress: Progress | None
) -> tuple[int, str]:
    """COPY the source into its bronze table; (records, sha256 of the file)."""
    statement = f"copy {fmt.table} ({copy_columns(fmt)}) from stdin with {COPY_OPTIONS}"
    with source.open() as raw:
        stream = _HashingStream(raw)
        reader = ArrayReader(stream, source.name, fmt)
        records = _copy_stream(
            conn, statement, source.name, stream, spotify_batches(reader, (user_id, load_id), fmt, progress)
        )
        return records, stream.digest.hexdigest()


def _copy_stream(
    conn: Any,
    statement: str,
    name: str,
    stream: _HashingStream,
    produce: Callable[[], Iterator[tuple[int, bytes]]],
) -> int:
    """Run one COPY fed by `produce` on the parser thread; the records copied. The file's problem
    (ImportProblem) wins over the aborted COPY's error; the bytes a reader left after its last record
    are read too, so that the file's hash covers it whole."""
    pipe = _CsvPipe(produce)
    pipe.start()
    try:
        with conn.cursor() as cur:
            cur.copy_expert(statement, pipe, size=1 << 20)
    except (psycopg2.Error, ImportProblem) as exc:
        interrupted = pipe.interrupted or _interrupt_entering_read(exc, pipe)
        if interrupted is not None:
            raise interrupted from None  # the run was interrupted, not the database or the file
        if isinstance(pipe.error, ImportProblem):
            raise pipe.error from None
        if isinstance(exc, ImportProblem):
            raise
        raise database_problem(name, exc) from None
    finally:
        pipe.close()
    if pipe.error is not None:
        raise pipe.error
    while stream.read(1 << 20):
        pass
    return pipe.records


# what a run's signal handlers raise: Python's own, and Dagster's inside a step
_READ_ERROR = re.compile(r"error in \.read\(\) call: (KeyboardInterrupt|DagsterExecutionInterruptedError)\b")


def _interrupt_entering_read(exc: BaseException, pipe: _CsvPipe) -> BaseException | None:
    """An interrupt raised as COPY called read(), before read()'s own code ran (a signal handler runs
    at a function's first instruction): psycopg2 keeps only its type's name, in the COPY's error. Only
    a signal handler raises there, apart from the parser's error, which the pipe holds. Given back as
    KeyboardInterrupt, which a run's step takes as Dagster's own interrupt (this module knows nothing
    of Dagster)."""
    if pipe.error is not None or not isinstance(exc, psycopg2.Error):
        return None
    return KeyboardInterrupt() if _READ_ERROR.search(str(exc)) else None


def _implausible_time(source: Source, fmt: Format) -> ImportProblem:
    """Name the first record whose time is a real timestamp but no possible play (error path only)."""
    latest = datetime.now(UTC) + FUTURE_SLACK
    with source.open() as stream:
        for batch in ArrayReader(stream, source.name, fmt).batches():
            for i, record in enumerate(batch.records):
                value = getattr(record, fmt.time_field)
                moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                if not EARLIEST_PLAY <= moment <= latest:
                    shown = _encode(value).decode().strip('"')  # as the file writes it
                    return ImportProblem(
                        source.name,
                        f"field `{fmt.time_field}`: {shown} is no possible play time (before 2006, when "
                        "Spotify began, or in the future).",
                        record=batch.first_index + i + 1,
                        hint=FIX_RECORD_HINT,
                    )
    return ImportProblem(
        source.name,
        "a play time before 2006 or in the future (the file changed while it was read?).",
        hint=FIX_RECORD_HINT,
    )


def _copy_problem(name: str, exc: psycopg2.Error) -> ImportProblem:
    """A value PostgreSQL refused (a date that does not exist, a NUL byte): name record and field."""
    detail = (exc.pgerror or str(exc)).strip()
    first_line = detail.splitlines()[0].removeprefix("ERROR:").strip()
    match = _COPY_LINE.search(detail)
    record = int(match.group(1)) if match else None
    column = match.group(2) if match and match.group(2) else None
    problem = f"field `{column}`: {first_line}." if column else f"{first_line}."
    return ImportProblem(name, problem, record=record, hint=FIX_RECORD_HINT)
