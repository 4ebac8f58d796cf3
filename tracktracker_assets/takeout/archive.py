"""One listener's takeout ZIP: their history in the services' own formats, every raw record, the
tables computed from them, the files still kept as received, and what is inside.

Layout (the manifest names it; README.txt says it to a person):
  history/   their Spotify history as Spotify writes it, rebuilt from bronze (replay.py)
  bronze/    every raw record of theirs, every service and live pull (tables.py)
  gold/      every computed table with their rows, and the tracks, artists and albums they refer to
  received/  the files of theirs still kept (retention: TRACKTRACKER_KEEP_DAYS/FILES), byte for byte
  tracktracker-takeout.json   the manifest: rows per table, size and sha256 per file
Tables are CSV, JSON lines or Parquet.

Importing the ZIP as a listener of another install loads history/ (exports/inbox.py skips the rest),
which rebuilds the same gold from Spotify's files. The database is read in one repeatable-read
transaction, so everything in the ZIP agrees even while a load or a refresh runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from tracktracker_assets.settings import Settings
from tracktracker_assets.takeout.manifest import HISTORY, KIND, MANIFEST
from tracktracker_assets.takeout.replay import spotify_files
from tracktracker_assets.takeout.tables import Table, listener_tables
from tracktracker_assets.warehouse.db import connect

FORMATS = ("csv", "json", "parquet")
SUFFIX = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}
FETCH_ROWS = 10_000

README = """\
Your TrackTracker data: {user_id}, taken {created_at}.

history/   Your Spotify listening history in Spotify's own format (JSON), every record TrackTracker
           holds, rebuilt from what it stored as received.
bronze/    Every record of yours as received from every service, files and live pulls, one file per
           table ({fmt}). Nothing else of yours is stored.
gold/      What TrackTracker computed from them ({fmt}): fct_plays holds every play once, with the
           services and sources that saw it (services, sources); fct_play_sources every source
           record each play was made from; dim_track, dim_artist and dim_album the music your plays
           refer to; the rest your sessions, daily figures and rankings.
received/  The files you gave TrackTracker that it still keeps, exactly as you gave them (named by
           the UTC time each was taken in, then its own name).
{manifest}  What is inside: rows per table, size and SHA-256 of each file.

Import this ZIP into another TrackTracker (`tracktracker import YOU this.zip`): it loads history/
and rebuilds the same tables from it.
"""


@dataclass
class Takeout:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows written
    history_files: int = 0
    received_files: int = 0


def write_takeout(settings: Settings, user_id: str, out: Path, fmt: str = "csv") -> Takeout:
    """Write `out` (a ZIP) with everything of `user_id`; the ZIP appears only once complete."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    created_at = datetime.now(UTC).replace(microsecond=0)
    takeout = Takeout(out)
    manifest: dict[str, Any] = {
        "kind": KIND,
        "version": 1,
        "user_id": user_id,
        "created_at": created_at.isoformat(),
        "table_format": fmt,
        "tables": {},
        "files": [],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    conn = connect(settings.database_url)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name, pieces in spotify_files(conn, user_id):
                member = f"{HISTORY}{name}"
                with zf.open(_entry(member, created_at), "w", force_zip64=True) as target:
                    size, sha = _write_hashed(pieces, target)
                manifest["files"].append({"member": member, "bytes": size, "sha256": sha})
                takeout.history_files += 1
            for kept in _kept_files(settings, user_id):
                member = f"received/{kept.name}"
                with (
                    open(kept, "rb") as source,
                    zf.open(_entry(member, created_at), "w", force_zip64=True) as target,
                ):
                    size, sha = _write_hashed(iter(lambda: source.read(1 << 20), b""), target)
                manifest["files"].append({"member": member, "bytes": size, "sha256": sha})
                takeout.received_files += 1
            for table in listener_tables(conn):
                member = table.member + SUFFIX[fmt]
                rows = _write_table(zf, conn, table, user_id, _entry(member, created_at), fmt)
                manifest["tables"][f"{table.schema}.{table.name}"] = {"member": member, "rows": rows}
                takeout.tables[f"{table.schema}.{table.name}"] = rows
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
            zf.writestr(
                "README.txt",
                README.format(user_id=user_id, created_at=created_at.isoformat(), fmt=fmt, manifest=MANIFEST),
            )
        conn.rollback()
        partial.chmod(0o600)  # a person's whole listening history: theirs alone, like everything in the home
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    return takeout


def _entry(member: str, at: datetime) -> zipfile.ZipInfo:
    """A ZIP member dated when the takeout was taken (a streamed member would say 1980)."""
    info = zipfile.ZipInfo(member, date_time=at.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _kept_files(settings: Settings, user_id: str) -> list[Path]:
    folder = settings.archive_root / user_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _write_hashed(pieces: Iterator[bytes], target: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
        target.write(piece)
    return size, digest.hexdigest()


def _batches(conn: Any, table: Table, user_id: str) -> Iterator[tuple[list[Any], list[tuple]]]:
    """(column descriptions, rows) in batches, through a server-side cursor: memory stays bounded."""
    with conn.cursor(name=f"takeout_{table.name}") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(table.query, {"user": user_id})
        described = False
        while rows := cur.fetchmany(FETCH_ROWS):
            described = True
            yield list(cur.description), rows
        if not described:  # no rows: the header still says what the table holds
            yield list(cur.description or []), []


def _write_table(
    zf: zipfile.ZipFile, conn: Any, table: Table, user_id: str, member: zipfile.ZipInfo, fmt: str
) -> int:
    if fmt == "parquet":
        return _write_parquet(zf, conn, table, user_id, member)
    count = 0
    with zf.open(member, "w", force_zip64=True) as raw, io.TextIOWrapper(raw, "utf-8", newline="") as text:
        writer = csv.writer(text) if fmt == "csv" else None
        for described, rows in _batches(conn, table, user_id):
            columns = [d.name for d in described]
            if writer is not None and count == 0:
                writer.writerow(columns)
            for row in rows:
                if writer is not None:
                    writer.writerow([_text(v) for v in row])
                else:
                    text.write(json.dumps(dict(zip(columns, map(_plain, row), strict=True))) + "\n")
            count += len(rows)
    return count


def _write_parquet(
    zf: zipfile.ZipFile, conn: Any, table: Table, user_id: str, member: zipfile.ZipInfo
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    count, writer = 0, None
    handle, scratch = tempfile.mkstemp(prefix=".takeout-", suffix=".parquet", dir=Path(zf.filename).parent)
    os.close(handle)
    try:
        for described, rows in _batches(conn, table, user_id):
            if writer is None:
                schema = pa.schema([pa.field(d.name, _arrow_type(pa, d.type_code)) for d in described])
                writer = pq.ParquetWriter(scratch, schema)
            if rows:
                data = {d.name: [_plain(r[i]) for r in rows] for i, d in enumerate(described)}
                writer.write_table(pa.table(data, schema=writer.schema))
            count += len(rows)
        if writer is not None:
            writer.close()
        with open(scratch, "rb") as source, zf.open(member, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, 1 << 20)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return count


# PostgreSQL type oids -> Parquet types; times, dates, text and the lineage (jsonb) are text
_BOOL, _INTEGERS, _FLOATS = 16, (20, 21, 23), (700, 701, 1700)


def _arrow_type(pa: Any, oid: int) -> Any:
    if oid == _BOOL:
        return pa.bool_()
    if oid in _INTEGERS:
        return pa.int64()
    if oid in _FLOATS:
        return pa.float64()
    return pa.string()


def _plain(value: Any) -> Any:
    """A value as JSON (and Parquet) take it: times as ISO 8601 text, numbers as numbers, the
    lineage (jsonb) as its JSON text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)  # exact, as stored
    plain = _plain(value)
    if plain is True or plain is False:
        return "true" if plain else "false"
    return plain
