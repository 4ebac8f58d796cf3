"""TRACKTRACKER_HOME is private: the folder 0700, every file in it 0600.

It holds every play of each listener, their uploads and the secrets. Processes TrackTracker starts
create files with umask 077 (the CLI sets it before anything else; the container image's entrypoint
too), and `up` takes group and other permissions off whatever an older version or a hand left behind.
When PostgreSQL runs as its own system user (TrackTracker started as root), that user must pass through
the home and the log folder to its data directory and log: those two become 0710 with the service
user's group, traversable and never listable or readable by anyone else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tracktracker_assets.settings import Settings

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Files and folders this process (and what it starts) creates are its user's alone."""
    os.umask(PRIVATE_UMASK)


def lock_down(settings: Settings, *, traverse_gid: int | None = None) -> None:
    """The home and its log folder: 0700, or 0710 with traverse_gid's group (PostgreSQL's user)."""
    for folder in (settings.home, settings.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
        if traverse_gid is None:
            folder.chmod(0o700)
        else:
            os.chown(folder, -1, traverse_gid)
            folder.chmod(0o710)


def tighten(settings: Settings) -> list[Path]:
    """Group and other permissions off every file and folder under the home, except the home and log
    folder (lock_down decides those) and PostgreSQL's data directory (PostgreSQL keeps it 0700 itself).
    Returns what was changed."""
    keep = {settings.home, settings.log_dir}
    changed = []
    for root, folders, files in os.walk(settings.home):
        here = Path(root)
        if here == settings.pgdata:
            folders[:] = []
            continue
        for name in [*folders, *files]:
            path = here / name
            if path in keep or path == settings.pgdata:
                continue
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                continue
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
            changed.append(path)
    return changed
