"""A user's inbox: files dropped there (by `tracktracker import`, the upload page, or by hand) wait to
be loaded. After processing, a file moves to archive/ (loaded, or nothing new) or rejected/ (with a
`.error.txt` saying why), so the inbox only ever holds work still to do.
"""

from __future__ import annotations

import fcntl
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracktracker_assets.ingest.errors import ImportProblem
from tracktracker_assets.ingest.jsonarray import SNIFF_BYTES, sniff
from tracktracker_assets.ingest.loader import FileResult, Progress, load_source, make_durable
from tracktracker_assets.ingest.sources import FileSource, Source, is_zip, zip_entries
from tracktracker_assets.settings import Settings

INCOMING_PREFIX = ".incoming-"


@dataclass
class InboxResult:
    """What became of one file dropped in the inbox (a ZIP yields one FileResult per entry)."""

    path: Path
    files: list[FileResult] = field(default_factory=list)
    error: str | None = None
    moved_to: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(f.ok for f in self.files)

    @property
    def inserted(self) -> int:
        return sum(f.inserted for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def problems(self) -> list[str]:
        found = [self.error] if self.error else []
        return found + [f.message for f in self.files if not f.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "ok": self.ok,
            "error": self.error,
            "moved_to": str(self.moved_to) if self.moved_to else None,
            "files": [
                {
                    "name": f.name,
                    "status": f.status,
                    "format": f.format,
                    "records": f.records,
                    "inserted": f.inserted,
                    "duplicates": f.duplicates,
                    "message": f.message,
                }
                for f in self.files
            ],
        }


def pending_files(settings: Settings, user_id: str) -> list[Path]:
    """Files waiting in a user's inbox, oldest first (files still being copied in are skipped)."""
    inbox = settings.inbox(user_id)
    if not inbox.is_dir():
        return []
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def users_with_pending_files(settings: Settings) -> list[str]:
    root = settings.inbox_root
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and pending_files(settings, d.name))


def drop_into_inbox(settings: Settings, user_id: str, source: Path) -> Path:
    """Copy a file into the inbox atomically (copied under a dot-name, then renamed)."""
    inbox = settings.inbox(user_id)
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / source.name
    if target.exists():
        target = inbox / f"{source.stem}-{uuid.uuid4().hex[:8]}{source.suffix}"
    temporary = inbox / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
    shutil.copyfile(source, temporary)
    temporary.rename(target)
    return target


def _history_sources(path: Path, settings: Settings) -> Iterator[tuple[Source | None, FileResult | None]]:
    """The sources of one dropped file: itself, or the history entries of a ZIP (others skipped)."""
    if not is_zip(path):
        yield FileSource(path, display=path.name), None
        return
    found = False
    for entry in zip_entries(path, max_total_bytes=settings.max_upload_bytes * 32):
        kind = _peek_kind(entry)
        if kind is None:
            found = True
            yield entry, None
        else:
            yield (
                None,
                FileResult(entry.name, "", "skipped", message=f"skipped, not listening history: {kind}."),
            )
    if not found:
        raise ImportProblem(
            path.name,
            "the ZIP holds no Spotify streaming history files (endsong_N.json, "
            "Streaming_History_*.json or StreamingHistory*.json).",
            hint="Spotify sends the history in its own ZIP: check you picked the right download.",
        )


def _peek_kind(entry: Source) -> str | None:
    """None if the entry should be loaded as history; else what it is, to report it as skipped.

    Spotify's ZIPs hold many other JSON files (Userdata, Playlist1, SearchQueries, ...): objects, or
    arrays of other records. A history file that is broken further in still loads, so that its
    problem is reported instead of silently skipped.
    """
    with entry.open() as stream:
        head = stream.read(SNIFF_BYTES)
    try:
        sniff(head, complete=len(head) < SNIFF_BYTES, name=entry.name)
    except ImportProblem as problem:
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" or problem.problem.startswith("wrong shape"):
            return problem.problem.rstrip(".")
    return None


def process_file(
    conn: Any,
    settings: Settings,
    user_id: str,
    path: Path,
    *,
    progress: Callable[[str], Progress] | None = None,
    file_away: bool = True,
) -> InboxResult:
    """Load one dropped file (or the history entries of a ZIP), then move it out of the inbox."""
    result = InboxResult(path)
    try:
        for source, skipped in _history_sources(path, settings):
            if skipped is not None:
                result.files.append(skipped)
                continue
            assert source is not None
            try:
                result.files.append(
                    load_source(
                        conn,
                        user_id,
                        source,
                        progress=progress(source.name) if progress else None,
                        durable=False,
                    )
                )
            except ImportProblem as problem:
                conn.rollback()
                result.files.append(FileResult(source.name, "", "rejected", message=str(problem)))
    except ImportProblem as problem:
        result.error = str(problem)
    except Exception as exc:  # one unreadable file must not stop the others; say what happened
        conn.rollback()
        result.error = f"{path.name}: could not be read ({type(exc).__name__}: {exc})."
    if file_away:
        make_durable(conn)
        result.moved_to = _file_away(settings, user_id, path, result)
    return result


def _file_away(settings: Settings, user_id: str, path: Path, result: InboxResult) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = settings.archive_root if result.ok else settings.rejected_root
    folder = root / user_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stamp}-{path.name}"
    shutil.move(str(path), target)
    if not result.ok:
        target.with_name(target.name + ".error.txt").write_text("\n".join(result.problems) + "\n")
    return target


@contextmanager
def inbox_lock(settings: Settings, user_id: str) -> Iterator[None]:
    """One loader per inbox at a time (the CLI in process, a run launched by the daemon's sensor):
    the second waits, then finds the files already gone."""
    inbox = settings.inbox(user_id)
    inbox.mkdir(parents=True, exist_ok=True)
    with open(inbox / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_inbox(
    conn: Any, settings: Settings, user_id: str, *, progress: Callable[[str], Progress] | None = None
) -> list[InboxResult]:
    """Load every waiting file; one flush to disk at the end, then the files leave the inbox."""
    with inbox_lock(settings, user_id):
        results = [
            process_file(conn, settings, user_id, path, progress=progress, file_away=False)
            for path in pending_files(settings, user_id)
        ]
        make_durable(conn)
        for result in results:
            result.moved_to = _file_away(settings, user_id, result.path, result)
    return results
