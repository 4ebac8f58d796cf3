"""What a listener's files may take on disk: a quota, and how long archived and rejected files stay.

Per listener, the bytes waiting in the inbox plus those kept in archive/ and rejected/ may not pass
TRACKTRACKER_USER_QUOTA_MB. Archived files are already in bronze (raw rows, every column but the
privacy fields, unknown keys in `extra`), and silver and gold are rebuilt from bronze alone, so
pruning the archive never affects a replay; an archived file is only a copy to import again or to
look at, and still holds what bronze drops (IP addresses, user names, user agents): one more reason
not to keep it long. So archived files are the first to go: an upload that would pass the quota
removes the oldest of them to make room, and is refused only if the inbox and rejected files alone
leave no room.
After every load run and at `up`, each of archive/ and rejected/ keeps at most TRACKTRACKER_KEEP_FILES
files per listener and none older than TRACKTRACKER_KEEP_DAYS, the newest kept. Interrupted copies
(`.incoming-*` in an inbox, staged uploads) untouched for TRACKTRACKER_PARTIAL_MAX_AGE_MIN are removed.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from tracktracker_assets.settings import Settings

INCOMING_PREFIX = ".incoming-"
ERROR_NOTE = ".error.txt"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"  # the prefix _file_away gives a filed file: when it was filed


def uploads_root(settings: Settings) -> Path:
    return settings.home / "uploads"


def _size(path: Path) -> int:
    try:
        status = path.lstat()
    except FileNotFoundError:
        return 0
    return status.st_size if not path.is_dir() or path.is_symlink() else 0


def _tree_size(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(_size(p) for p in folder.rglob("*"))


def usage(settings: Settings, user_id: str) -> int:
    """Bytes of a listener's files: waiting in the inbox (partial copies too), archived, rejected."""
    return sum(
        _tree_size(root / user_id)
        for root in (settings.inbox_root, settings.archive_root, settings.rejected_root)
    )


def filed_at(path: Path) -> float:
    """When a file was moved into archive/ or rejected/ (its name's stamp; else its mtime)."""
    try:
        return datetime.strptime(path.name.split("-", 1)[0], STAMP_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return path.lstat().st_mtime


def _kept(folder: Path) -> list[Path]:
    """The filed files of one listener's archive/ or rejected/, newest first (error notes aside)."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if not p.name.endswith(ERROR_NOTE) and not p.name.startswith(".")]
    return sorted(files, key=lambda p: (filed_at(p), p.name), reverse=True)


def _remove(path: Path) -> int:
    """Delete a filed file and its error note; the bytes freed."""
    freed = 0
    for victim in (path, path.with_name(path.name + ERROR_NOTE)):
        size = _size(victim)
        try:
            if victim.is_dir() and not victim.is_symlink():
                shutil.rmtree(victim)
            else:
                victim.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def prune_kept_files(settings: Settings, user_id: str, *, now: float | None = None) -> list[Path]:
    """Remove archived and rejected files past the retention (count, age); returns what was removed."""
    now = time.time() if now is None else now
    oldest = now - settings.keep_days * 86400
    removed = []
    for root in (settings.archive_root, settings.rejected_root):
        for index, path in enumerate(_kept(root / user_id)):
            if index >= settings.keep_files or filed_at(path) < oldest:
                _remove(path)
                removed.append(path)
    return removed


def make_room(settings: Settings, user_id: str, incoming: int) -> int:
    """Remove the oldest archived files until `incoming` more bytes fit the quota (or none is left);
    returns the bytes still over the quota (0: it fits)."""
    over = usage(settings, user_id) + incoming - settings.user_quota_bytes
    if over <= 0:
        return 0
    for path in reversed(_kept(settings.archive_root / user_id)):
        over -= _remove(path)
        if over <= 0:
            return 0
    return over


def quota_problem(settings: Settings, user_id: str, incoming: int, *, whose: str | None = None) -> str | None:
    """None if `incoming` more bytes fit the listener's quota (after making room); else why not, as a
    sentence that follows a file name."""
    if make_room(settings, user_id, incoming) <= 0:
        return None
    used = usage(settings, user_id)
    waiting = _tree_size(settings.inbox(user_id))
    whose = whose or f"{user_id}'s"
    return (
        f"would bring {whose} files on this server to {size_text(used + incoming)}, over the quota of "
        f"{size_text(settings.user_quota_bytes)}: files waiting in the inbox ({size_text(waiting)}) "
        f"and rejected files count. Rejected files are removed after {settings.keep_days} days or beyond "
        f"the newest {settings.keep_files}."
    )


def size_text(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size / 1024:,.0f} KB"


def remove_stale_partials(settings: Settings, user_id: str, *, now: float | None = None) -> list[Path]:
    """Delete interrupted copies: `.incoming-*` files of the inbox and staged uploads that nothing has
    written to for the partial age bound (a live copy keeps moving their modification time)."""
    now = time.time() if now is None else now
    limit = now - settings.partial_max_age_s
    removed = []
    inbox = settings.inbox(user_id)
    for path in inbox.glob(INCOMING_PREFIX + "*") if inbox.is_dir() else []:
        try:
            if path.lstat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    staging = uploads_root(settings) / user_id
    for folder in staging.iterdir() if staging.is_dir() else []:
        newest = max((p.lstat().st_mtime for p in [folder, *folder.rglob("*")]), default=0.0)
        if newest < limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def tidy_everyone(settings: Settings) -> int:
    """Stale partial copies and files past retention, for every listener (at `up`); files removed."""
    users: set[str] = set()
    for root in (settings.inbox_root, settings.archive_root, settings.rejected_root, uploads_root(settings)):
        if root.is_dir():
            users.update(d.name for d in root.iterdir() if d.is_dir())
    return sum(
        len(remove_stale_partials(settings, user)) + len(prune_kept_files(settings, user))
        for user in sorted(users)
    )
