"""A user's inbox: files dropped there (by `tracktracker import`, the upload page, or by hand) wait to
be loaded. After processing, a file moves to archive/ (loaded, or nothing new) or rejected/ (with a
`.error.txt` saying why), so the inbox only ever holds work still to do.

Only complete files are taken. TrackTracker's own copies are written under a `.incoming-` name and
renamed into place when whole. A file dropped by hand (cp, a file manager, scp) is taken once it has
been unchanged for TRACKTRACKER_INBOX_SETTLE_S: a copy in progress keeps moving its modification time.
Our own copies are dated back by that much as they are renamed, so they are taken at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg2

from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.errors import ImportProblem, ServiceProblem, disk_full_hint
from tracktracker_assets.exports.jsonarray import SNIFF_BYTES, sniff
from tracktracker_assets.exports.loader import (
    FileResult,
    Progress,
    Siblings,
    database_problem,
    load_source,
    make_durable,
    rollback_quietly,
)
from tracktracker_assets.exports.retention import INCOMING_PREFIX, prune_kept_files, remove_stale_partials
from tracktracker_assets.exports.rowformats import Head
from tracktracker_assets.exports.sources import (
    FileSource,
    Source,
    ZipEntrySource,
    check_regular,
    is_workbook,
    is_zip,
    open_regular,
    special_kind,
    zip_entries,
)
from tracktracker_assets.settings import Settings
from tracktracker_assets.takeout.manifest import HISTORY, is_takeout

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass
class InboxResult:
    """What became of one file dropped in the inbox (a ZIP yields one FileResult per entry)."""

    path: Path
    files: list[FileResult] = field(default_factory=list)
    error: str | None = None
    moved_to: Path | None = None
    # why the file was left in the inbox for a later run (it changed while being read, ...)
    left_in_inbox: str | None = None

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
            "left_in_inbox": self.left_in_inbox,
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


def _changed_at(status: os.stat_result) -> float:
    return status.st_mtime


def _settled(status: os.stat_result, settings: Settings, now: float) -> bool:
    """Unchanged for the settle time: modified at least that long ago (or ahead: a clock set back
    must not hold a file for ever)."""
    return abs(now - _changed_at(status)) >= settings.inbox_settle_s


def _entries(inbox: Path) -> list[tuple[Path, os.stat_result]]:
    """Every visible entry of an inbox with its status (through symbolic links where they lead)."""
    found = []
    for path in inbox.iterdir() if inbox.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            found.append((path, path.stat()))
        except OSError:  # a broken symbolic link: still an entry, refused when processed
            try:
                found.append((path, path.lstat()))
            except FileNotFoundError:  # gone meanwhile
                continue
    return found


def has_entries(settings: Settings, user_id: str) -> bool:
    """Anything at all in the user's inbox, settled or not (a load to finish or one on its way)."""
    return bool(_entries(settings.inbox(user_id)))


def entry_names(settings: Settings, user_id: str) -> list[str]:
    """The names of everything in the user's inbox, settled or not, sorted."""
    return sorted(path.name for path, _ in _entries(settings.inbox(user_id)))


def pending_files(settings: Settings, user_id: str, *, now: float | None = None) -> list[Path]:
    """Files ready to be loaded from a user's inbox, oldest first: settled ones only, no folders.

    Pipes, devices and sockets are listed too (never opened here), so that a load run refuses them
    with a reason instead of leaving them unexplained.
    """
    now = time.time() if now is None else now
    ready = [
        (path, status)
        for path, status in _entries(settings.inbox(user_id))
        if special_kind(status.st_mode) != "a folder" and _settled(status, settings, now)
    ]
    return [path for path, _ in sorted(ready, key=lambda e: (_changed_at(e[1]), e[0].name))]


def users_with_pending_files(settings: Settings) -> list[str]:
    root = settings.inbox_root
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and pending_files(settings, d.name))


def users_with_settling_files(settings: Settings) -> list[str]:
    """Users whose inbox holds files still being written (not settled yet)."""
    root = settings.inbox_root
    if not root.is_dir():
        return []
    return sorted(
        d.name
        for d in root.iterdir()
        if d.is_dir() and any(w.state == "settling" for w in inbox_report(settings, d.name))
    )


@dataclass(frozen=True)
class Waiting:
    """One entry of an inbox that is not loaded yet, and why."""

    name: str
    size: int
    state: str  # ready | settling | copying | interrupted copy | not a file | folder
    detail: str


def inbox_report(settings: Settings, user_id: str, *, now: float | None = None) -> list[Waiting]:
    """What waits in a user's inbox and why, for `tracktracker status` (readiness only; whether a load
    run is coming is the caller's to say)."""
    now = time.time() if now is None else now
    inbox = settings.inbox(user_id)
    report = []
    for path in sorted(inbox.glob(INCOMING_PREFIX + "*")) if inbox.is_dir() else []:
        try:
            status = path.lstat()
        except FileNotFoundError:
            continue
        age = now - status.st_mtime
        if age > settings.partial_max_age_s:
            report.append(
                Waiting(
                    path.name,
                    status.st_size,
                    "interrupted copy",
                    f"untouched for {_duration(age)}: removed at the next load run or `tracktracker up`",
                )
            )
        else:
            report.append(Waiting(path.name, status.st_size, "copying", "being copied in by TrackTracker"))
    for path, status in sorted(_entries(inbox), key=lambda e: (_changed_at(e[1]), e[0].name)):
        kind = special_kind(status.st_mode)
        size = status.st_size if kind is None else 0
        if kind == "a folder":
            report.append(
                Waiting(path.name, 0, "folder", "folders are not read: put the files it holds in the inbox")
            )
        elif not _settled(status, settings, now):
            report.append(
                Waiting(
                    path.name,
                    size,
                    "settling",
                    f"changed {max(now - _changed_at(status), 0):.0f} s ago; taken once unchanged for "
                    f"{settings.inbox_settle_s:g} s",
                )
            )
        elif kind is not None:
            report.append(
                Waiting(path.name, 0, "not a file", f"{kind}: the next load run moves it to rejected/")
            )
        else:
            report.append(Waiting(path.name, size, "ready", "complete, waiting for a load run"))
    return report


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def drop_into_inbox(settings: Settings, user_id: str, source: Path, *, move: bool = False) -> Path:
    """Put a file into the inbox whole: written under a dot-name, then renamed into place.

    With move=True the source (a staged upload on the same disk) is renamed instead of copied. A copy
    that fails (disk full, the source unreadable, interrupted) leaves nothing behind in the inbox.
    Raises ImportProblem for a source that is not a regular file, ServiceProblem when the inbox cannot
    take it.
    """
    inbox = settings.inbox(user_id)
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / source.name
    if target.exists():
        target = inbox / f"{source.stem}-{uuid.uuid4().hex[:8]}{source.suffix}"
    temporary = inbox / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
    try:
        if not (move and _renamed(source, temporary)):
            _copy_whole(source, temporary)
        # complete now: dated back past the settle time, so that it is taken at once
        past = time.time() - settings.inbox_settle_s - 1
        os.utime(temporary, (past, past))
        temporary.rename(target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _inbox_problem(source.name, inbox, exc) from None
    except BaseException:  # ImportProblem for the source, or interrupted (Ctrl-C)
        temporary.unlink(missing_ok=True)
        raise
    return target


def _renamed(source: Path, target: Path) -> bool:
    try:
        check_regular(source, source.name)
        source.rename(target)
        return True
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # another file system: copy instead
            return False
        raise


def _copy_whole(source: Path, target: Path) -> None:
    with open_regular(source, source.name) as src, open(target, "xb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())  # on disk before the rename makes it visible as complete


def _inbox_problem(name: str, inbox: Path, exc: OSError) -> ServiceProblem:
    if exc.errno in DISK_FULL:
        return ServiceProblem(
            f"{name}: the disk holding the inbox {inbox} is full ({exc.strerror}); nothing of the file "
            f"was kept. {disk_full_hint(str(inbox))}",
            disk_full=True,
        )
    return ServiceProblem(
        f"{name}: could not be copied into the inbox {inbox} ({exc.strerror or exc}); nothing of it was "
        "kept. Check that the folder exists and is writable, then try again."
    )


TAKEOUT_REBUILT = (
    "skipped: a TrackTracker takeout's tables and files as first received, which its history/ files rebuild."
)


def _history_sources(path: Path, settings: Settings) -> Iterator[tuple[Source | None, FileResult | None]]:
    """The sources of one dropped file: itself, or the history entries of a ZIP (others skipped)."""
    if not is_zip(path) or is_workbook(path):
        yield FileSource(path, display=path.name), None
        return
    found = False
    takeout, rebuilt = is_takeout(path), 0
    for entry in zip_entries(path, max_total_bytes=settings.max_upload_bytes * 32):
        if takeout and not entry.entry.startswith(HISTORY):
            rebuilt += 1
            continue
        kind = _peek_kind(entry)
        if kind is None:
            found = True
            yield entry, None
        else:
            yield (
                None,
                FileResult(entry.name, "", "skipped", message=f"skipped, not listening history: {kind}."),
            )
    if rebuilt:
        yield None, FileResult(f"{path.name}: {rebuilt} other files", "", "skipped", message=TAKEOUT_REBUILT)
    if not found:
        raise ImportProblem(
            path.name,
            "the ZIP holds no listening history file TrackTracker reads (Spotify's endsong_N.json, "
            "Streaming_History_*.json or StreamingHistory*.json, or another service's history).",
            hint="A service sends the history in its own ZIP: check you picked the right download.",
        )


def _peek_kind(entry: Source) -> str | None:
    """None if the entry should be loaded as history; else what it is, to report it as skipped.

    Exports hold many other files (Spotify's Userdata and Playlist1 JSON, Apple's dozens of CSVs):
    skipped, saying what they are. A history file that is broken further in still loads, so that its
    problem is reported instead of silently skipped.
    """
    with entry.open() as stream:
        head = stream.read(SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES
    try:
        sniff(head, complete=complete, name=entry.name)
    except ImportProblem as problem:
        sniffed = Head(entry.name, head, complete)
        if catalogue.row_format_of(sniffed) is not None:
            return None
        if (other := catalogue.not_history_of(sniffed)) is not None:
            return other.what
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" or problem.problem.startswith("wrong shape"):
            return problem.problem.rstrip(".")
        if PurePosixPath(entry.name).suffix.lower() != ".json":
            return "a file TrackTracker does not read"
    return None


def _siblings(sources: list[Source]) -> Siblings:
    """Openers of the files of one import, for readers completed by another file (Apple's artists)."""
    found: Siblings = {}
    for source in sources:
        if isinstance(source, ZipEntrySource):
            found[source.name] = source.read_all
        elif isinstance(source, FileSource):
            found[source.name] = lambda path=source.path: open_regular(path)
    return found


def process_file(
    conn: Any,
    settings: Settings,
    user_id: str,
    path: Path,
    *,
    progress: Callable[[str], Progress] | None = None,
    file_away: bool = True,
    companions: Siblings | None = None,
) -> InboxResult:
    """Load one dropped file (or the history entries of a ZIP), then move it out of the inbox.

    `companions` are the other files dropped with it (their names and openers), for a reader that
    completes its rows from another file of the same export. A file that changed while it was read
    is still being written: whatever it gave is rolled back
    (its loads were all-or-nothing anyway) and it stays for a later run. ServiceProblem (the
    database went away) propagates: the file is not at fault and stays in the inbox.
    """
    result = InboxResult(path)
    try:
        before = check_regular(path, path.name)
    except ImportProblem as problem:
        result.error = str(problem)
        if file_away:
            result.moved_to = _file_away(settings, user_id, path, result)
        return result
    try:
        found = list(_history_sources(path, settings))
        siblings = {**(companions or {}), **_siblings([s for s, _ in found if s is not None])}
        for source, skipped in found:
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
                        siblings=siblings,
                    )
                )
            except ImportProblem as problem:
                rollback_quietly(conn)
                result.files.append(FileResult(source.name, "", "rejected", message=str(problem)))
    except ServiceProblem:
        raise
    except ImportProblem as problem:
        result.error = str(problem)
    except psycopg2.Error as exc:
        rollback_quietly(conn)
        raise database_problem(path.name, exc) from None
    except Exception as exc:  # one unreadable file must not stop the others; say what happened
        rollback_quietly(conn)
        result.error = f"{path.name}: could not be read ({type(exc).__name__}: {exc})."
    if _changed_since(path, before):
        result.left_in_inbox = "it changed while it was read (still being written): left for the next run"
        result.files = [f for f in result.files if f.ok]
        result.error = None
        return result
    if file_away:
        _make_durable(conn, path.name)
        result.moved_to = _file_away(settings, user_id, path, result)
    return result


def _changed_since(path: Path, before: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns, now.st_ino) != (before.st_size, before.st_mtime_ns, before.st_ino)


def _make_durable(conn: Any, what: str) -> None:
    try:
        make_durable(conn)
    except psycopg2.Error as exc:
        raise database_problem(what, exc) from None


def _file_away(settings: Settings, user_id: str, path: Path, result: InboxResult) -> Path | None:
    """Move a processed file to archive/ or rejected/; None if it could not move (it then stays in the
    inbox, and the next run finds it already loaded, or refuses it again)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = settings.archive_root if result.ok else settings.rejected_root
    folder = root / user_id
    target = folder / f"{stamp}-{path.name}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            path.rename(target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            if not path.is_file():  # a pipe or device on another file system: nothing worth keeping
                path.unlink()
            else:
                shutil.move(str(path), target)
    except OSError as exc:
        result.left_in_inbox = f"could not be moved to {folder} ({exc.strerror or exc}): left in the inbox"
        return None
    # a file copied in by hand keeps its creator's mode (often 0644): kept files are the owner's alone
    with contextlib.suppress(OSError):
        target.chmod(0o600)
    if not result.ok:
        # on a full disk the note is lost, but the outcome is still in the run's log and the CLI's output
        with contextlib.suppress(OSError):
            target.with_name(target.name + ".error.txt").write_text("\n".join(result.problems) + "\n")
    return target


@contextmanager
def inbox_lock(settings: Settings, user_id: str) -> Iterator[None]:
    """One loader per inbox at a time (the CLI in process, a run launched by the daemon's sensor):
    the second waits, then finds the files already gone."""
    inbox = settings.inbox(user_id)
    inbox.mkdir(parents=True, exist_ok=True)
    # an inbox made by hand (mkdir under a 022 umask) is tightened like everything under the home
    with contextlib.suppress(OSError):
        inbox.chmod(stat.S_IMODE(inbox.stat().st_mode) & 0o700)
    with open(inbox / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_inbox(
    conn: Any, settings: Settings, user_id: str, *, progress: Callable[[str], Progress] | None = None
) -> list[InboxResult]:
    """Load every waiting file; one flush to disk at the end, then the files leave the inbox, and the
    archive and rejected files beyond what is kept are pruned."""
    with inbox_lock(settings, user_id):
        remove_stale_partials(settings, user_id)
        pending = pending_files(settings, user_id)
        together = _siblings([FileSource(path, display=path.name) for path in pending])
        results = [
            process_file(
                conn, settings, user_id, path, progress=progress, file_away=False, companions=together
            )
            for path in pending
        ]
        _make_durable(conn, f"the inbox of {user_id}")
        for result in results:
            if result.left_in_inbox is None:
                result.moved_to = _file_away(settings, user_id, result.path, result)
    prune_kept_files(settings, user_id)
    return results
