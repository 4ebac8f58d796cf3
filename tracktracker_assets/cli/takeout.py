"""`tracktracker export USER`: prints what takeout/archive.py writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from tracktracker_assets.services.local import open_registry, start_storage
from tracktracker_assets.settings import Settings


def export(settings: Settings, console: Console, user_id: str, fmt: str, output: Path | None) -> Path:
    from tracktracker_assets.takeout.archive import write_takeout

    start_storage(settings)
    with open_registry(settings) as registry:
        registry.require_user(user_id)
    out = output or Path(f"tracktracker-{user_id}-{datetime.now(UTC):%Y%m%d}.zip")
    takeout = write_takeout(settings, user_id, out, fmt)
    plays = takeout.tables.get("gold.fct_plays", 0)
    console.print(
        f"Wrote {out}: {plays:,} plays, {len(takeout.tables)} tables ({fmt}), "
        f"{takeout.history_files} Spotify history files, {takeout.received_files} files as received. "
        f"Import it into another TrackTracker with: tracktracker import {user_id} {out.name}"
    )
    return out
