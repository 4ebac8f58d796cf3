"""Takeouts asked for on the upload page: Superset's process may not read the warehouse as its owner
(docs/security.md), and a listener's own role cannot read bronze, so the page only leaves a request;
the orchestrator, which holds the owner's credentials, builds the ZIP with the same write_takeout as
`tracktracker export`; the page then hands it to its listener once, and removes it.

    TRACKTRACKER_HOME/takeout/<user_id>/request.json     {"format": ..., "requested_at": ...}
    TRACKTRACKER_HOME/takeout/<user_id>/<name>.zip       the finished takeout, 0600, until downloaded
    TRACKTRACKER_HOME/takeout/<user_id>/failed.txt       why the last one could not be built

Every path is the listener's own folder: callers pass the user id of the signed-in listener (the page)
or of a folder found here (the orchestrator), never a name taken from a request's parameters. An
erasure removes the folder with every other path named after the listener (users/traces.py).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tracktracker_assets.services.state import write_atomic
from tracktracker_assets.settings import Settings
from tracktracker_assets.takeout.archive import FORMATS, write_takeout
from tracktracker_assets.users.registry import USER_ID_PATTERN

REQUEST = "request.json"
FAILED = "failed.txt"


@dataclass(frozen=True)
class TakeoutState:
    requested: str | None  # the format asked for and not built yet
    ready: Path | None  # the finished ZIP, not downloaded yet
    failed: str | None = None  # why the last request could not be built


def takeout_root(settings: Settings) -> Path:
    return settings.home / "takeout"


def _folder(settings: Settings, user_id: str) -> Path:
    if not USER_ID_PATTERN.match(user_id or ""):
        raise ValueError(f"user id {user_id!r}: expected a registry user id (a-z, 0-9, - and _)")
    return takeout_root(settings) / user_id


def request_takeout(settings: Settings, user_id: str, fmt: str) -> None:
    """Ask for `user_id`'s takeout in `fmt`; a takeout still waiting for download is replaced."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    folder = _folder(settings, user_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in [*folder.glob("*.zip"), folder / FAILED]:
        old.unlink(missing_ok=True)
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    write_atomic(folder / REQUEST, json.dumps({"format": fmt, "requested_at": at}) + "\n")


def takeout_state(settings: Settings, user_id: str) -> TakeoutState:
    folder = _folder(settings, user_id)
    requested = None
    with contextlib.suppress(OSError, ValueError, KeyError):  # none, or one being replaced right now
        requested = json.loads((folder / REQUEST).read_text())["format"]
    failed = None
    with contextlib.suppress(OSError):
        failed = (folder / FAILED).read_text().strip() or None
    ready = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    return TakeoutState(requested, ready[-1] if ready else None, failed)


def users_with_requests(settings: Settings) -> list[str]:
    root = takeout_root(settings)
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{REQUEST}"))


def request_key(settings: Settings) -> str:
    """What identifies the requests waiting now: the same requests, the same key (the orchestrator
    starts one run for them); a new or repeated request, a new key."""
    keys = []
    for user_id in users_with_requests(settings):
        with contextlib.suppress(OSError):  # built and removed meanwhile
            # each request is a new file (written whole, then renamed): a new inode, a new time
            asked = (_folder(settings, user_id) / REQUEST).stat()
            keys.append(f"{user_id}@{asked.st_ino}.{asked.st_mtime_ns}")
    return ",".join(keys)


def fulfil_requests(settings: Settings) -> list[Path]:
    """Build every requested takeout (the orchestrator's side: it reads the warehouse as its owner).
    One that fails is answered with why (the page shows it; asking again retries), the others are still
    built, and the failures are raised at the end so the run shows them."""
    built, failures = [], []
    for user_id in users_with_requests(settings):
        folder = _folder(settings, user_id)
        request = folder / REQUEST
        asked = request.read_text()
        fmt = json.loads(asked)["format"]
        out = folder / f"tracktracker-{user_id}-{datetime.now(UTC):%Y%m%d}-{fmt}.zip"
        try:
            write_takeout(settings, user_id, out, fmt)
        except Exception as exc:
            failures.append(f"{user_id}: {type(exc).__name__}: {exc}")
            write_atomic(folder / FAILED, f"{type(exc).__name__}: {exc}\n")
        else:
            built.append(out)
        if request.read_text() == asked:  # asked again meanwhile (another format): the next run builds that
            request.unlink(missing_ok=True)
    if failures:
        raise RuntimeError(
            "takeouts not built (each listener's page says so; they may ask again): " + "; ".join(failures)
        )
    return built
