"""Taking a listener's files into their inbox: refused up front when they cannot be an export or
would pass the quota, and copied all or none."""

from __future__ import annotations

from pathlib import Path

from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.inbox import drop_into_inbox
from tracktracker_assets.exports.retention import quota_problem
from tracktracker_assets.exports.sources import check_regular
from tracktracker_assets.settings import Settings


def check_paths(settings: Settings, user_id: str, paths: list[Path]) -> None:
    """Refuse, before anything is copied: missing files, folders, pipes and devices (never opened:
    a pipe would block, a device stream forever), files over the size limit, and the whole lot when it
    would pass the listener's quota."""
    total = 0
    for path in paths:
        if path.is_dir():
            raise ImportProblem(str(path), "is a folder.", hint="Give the export's JSON files or its ZIP.")
        size = check_regular(path).st_size
        if size > settings.max_upload_bytes:
            raise ImportProblem(
                str(path),
                f"is {size >> 20} MB, more than the {settings.max_upload_bytes >> 20} MB limit.",
                hint="Raise TRACKTRACKER_MAX_UPLOAD_MB if this really is a Spotify export.",
            )
        total += size
    problem = quota_problem(settings, user_id, total)
    if problem is not None:
        names = paths[0].name if len(paths) == 1 else f"these {len(paths)} files"
        raise ImportProblem(
            names,
            problem,
            hint=f"Remove old files from {settings.rejected_root / user_id}, or raise "
            "TRACKTRACKER_USER_QUOTA_MB. Nothing was imported.",
        )


def drop_all(settings: Settings, user_id: str, paths: list[Path]) -> None:
    """Copy every file into the inbox, or none: after a failed copy (a full disk, an unreadable file)
    the ones already copied are taken out again, so that re-running the same command is the fix."""
    dropped: list[Path] = []
    try:
        for path in paths:
            dropped.append(drop_into_inbox(settings, user_id, path))
    except BaseException:
        for path in dropped:
            path.unlink(missing_ok=True)
        raise
