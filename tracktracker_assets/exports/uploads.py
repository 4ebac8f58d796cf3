"""Files a listener uploads in the browser: checked, then dropped into their inbox (where the Dagster
inbox sensor picks them up), and the outcomes of their recent imports, for the upload page.

No Flask here: the blueprint (dashboards/upload_page.py) hands over file-like objects and renders what
comes back.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from werkzeug.utils import secure_filename

from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.errors import ServiceProblem
from tracktracker_assets.exports.inbox import DISK_FULL, drop_into_inbox, pending_files
from tracktracker_assets.exports.retention import quota_problem, uploads_root
from tracktracker_assets.exports.rowformats import Head
from tracktracker_assets.settings import Settings

CHUNK = 1 << 20
QUOTA_STEP = 64 << 20  # how often, in bytes received, the quota is checked again
FORMATS = {"spotify_extended": "extended streaming history", "spotify_account": "account data"}
ZIP_MAGIC = b"PK\x03\x04"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Outcome:
    """What happened to one uploaded file: accepted into the inbox, or refused with the reason."""

    name: str
    accepted: bool
    message: str


@dataclass(frozen=True)
class ImportRecord:
    """One line of the listener's import history."""

    when: str  # local time, or "" while waiting
    name: str
    status: str  # loaded | rejected | waiting
    detail: str


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size / 1024:,.0f} KB"


def kind_of(head: bytes, name: str = "") -> str | None:
    """ "zip", "json", "html" or the other service's format from the first bytes of a file, None for
    anything no import could read (the inbox's load tells the rest, with the reason)."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    body = head[len(BOM) :] if head.startswith(BOM) else head
    body = body.lstrip(b" \t\r\n")
    if body[:1] in (b"[", b"{"):
        return "json"
    if body[:1] == b"<":
        return "html"
    fmt = catalogue.row_format_of(Head(name, head, complete=False))
    return fmt.name if fmt is not None else None


def _not_an_export(name: str) -> Outcome:
    return Outcome(
        name,
        False,
        "is no listening history TrackTracker reads. Upload the ZIP Spotify e-mailed you "
        "(my_spotify_data.zip) or the JSON files inside it, or another service's export as it came "
        "(Apple_Media_Services.zip, YouTube's watch-history, a Last.fm or ListenBrainz export, Deezer's "
        "deezer-data_*.xlsx, Tidal's streaming.csv).",
    )


def staging_dir(settings: Settings, user_id: str) -> Path:
    # beside the inbox (same file system): the finished upload is renamed into the inbox, whole
    return uploads_root(settings) / user_id


def _over_quota(settings: Settings, user_id: str, original: str, size: int) -> Outcome | None:
    problem = quota_problem(settings, user_id, size, whose="your")
    if problem is None:
        return None
    return Outcome(
        original,
        False,
        f"was not kept: it {problem} Wait until your waiting files are loaded, or ask the owner of this "
        "TrackTracker to raise TRACKTRACKER_USER_QUOTA_MB.",
    )


def accept_upload(settings: Settings, user_id: str, filename: str | None, stream: BinaryIO) -> Outcome:
    """Check one uploaded file (size, ZIP or JSON, the listener's quota) while staging it; move it into
    the inbox when whole and fine. Nothing is left behind when it is refused or the disk fills."""
    original = (filename or "").strip()
    if not original:
        return Outcome("(no name)", False, "No file was chosen.")
    name = secure_filename(original) or f"upload-{uuid.uuid4().hex[:8]}.json"
    limit = settings.max_upload_bytes
    stage = staging_dir(settings, user_id) / uuid.uuid4().hex
    stage.mkdir(parents=True, exist_ok=True)
    staged = stage / name
    try:
        size = 0
        head = b""
        with open(staged, "wb") as out:
            while chunk := stream.read(CHUNK):
                if not head:
                    head = chunk[:4096]
                    # refused on its first bytes: no need to receive the rest
                    if kind_of(head, original) is None:
                        return _not_an_export(original)
                size += len(chunk)
                if size > limit:
                    return Outcome(
                        original,
                        False,
                        f"is larger than the {_mb(limit)} limit. Upload Spotify's ZIP as it came, or its "
                        "JSON files one by one; the server's owner can raise TRACKTRACKER_MAX_UPLOAD_MB.",
                    )
                # checked as it grows, so an upload over the quota is not received to the end
                if size == len(chunk) or size // QUOTA_STEP != (size - len(chunk)) // QUOTA_STEP:
                    refused = _over_quota(settings, user_id, original, size)
                    if refused is not None:
                        return refused
                out.write(chunk)
        if size == 0:
            return Outcome(
                original, False, "is empty (0 bytes). Pick the file again; maybe it did not download fully."
            )
        refused = _over_quota(settings, user_id, original, size)
        if refused is not None:
            return refused
        drop_into_inbox(settings, user_id, staged, move=True)
        what = "ZIP archive" if kind_of(head) == "zip" else "JSON file"
        return Outcome(
            original,
            True,
            f"received ({what}, {_mb(size)}). It will appear in your dashboards within a few minutes; "
            "this page shows the result of the import below.",
        )
    except (OSError, ServiceProblem) as exc:  # the listener can only retry or tell the owner
        if isinstance(exc, ServiceProblem):
            why = "the server's disk is full" if exc.disk_full else "its storage failed"
        else:
            why = "the server's disk is full" if exc.errno in DISK_FULL else (exc.strerror or str(exc))
        return Outcome(
            original,
            False,
            f"could not be stored on the server ({why}). Nothing was kept; try again later or tell the "
            "owner of this TrackTracker.",
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def local_time(moment: datetime, timezone: str) -> str:
    """A UTC moment as the listener's wall-clock time (naive datetimes from the registry are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return _local(aware, ZoneInfo(timezone))


def _rejections(settings: Settings, user_id: str, zone: ZoneInfo) -> list[tuple[datetime, ImportRecord]]:
    folder = settings.rejected_root / user_id
    found = []
    for note in folder.glob("*.error.txt") if folder.is_dir() else []:
        filed = note.name.removesuffix(".error.txt")
        stamp, _, original = filed.partition("-")
        try:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            moment, original = datetime.fromtimestamp(note.stat().st_mtime, UTC), filed
        message = note.read_text(errors="replace").strip()
        found.append((moment, ImportRecord(_local(moment, zone), original, "rejected", message)))
    return found


def _loaded(conn: object, zone: ZoneInfo, limit: int) -> list[tuple[datetime, ImportRecord]]:
    """The files loaded for the connection's listener: conn logs in as their own PostgreSQL role, and
    tt_security.my_loaded_files answers for that role only (warehouse/access.py)."""
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "select file_name, format, records, inserted, duplicates, loaded_at "
            "from tt_security.my_loaded_files(%s)",
            (limit,),
        )
        rows = cur.fetchall()
    records = []
    for name, fmt, total, inserted, duplicates, loaded_at in rows:
        detail = f"{inserted:,} new plays of {total:,} records ({FORMATS.get(fmt, fmt.replace('_', ' '))})"
        if duplicates:
            detail += f"; {duplicates:,} were already known"
        records.append((loaded_at, ImportRecord(_local(loaded_at, zone), name, "loaded", detail)))
    return records


def import_history(
    settings: Settings, conn: object, user_id: str, timezone: str, *, limit: int = 20
) -> list[ImportRecord]:
    """Waiting files first, then loaded and rejected files, newest first (times in the user's zone).
    conn: a connection as the listener's own warehouse role."""
    zone = ZoneInfo(timezone)
    waiting = [
        ImportRecord("", path.name, "waiting", "in your inbox; it will be loaded within a minute or two")
        for path in pending_files(settings, user_id)
    ]
    done = _loaded(conn, zone, limit) + _rejections(settings, user_id, zone)
    done.sort(key=lambda pair: pair[0], reverse=True)
    return waiting + [record for _, record in done[:limit]]
