"""How a takeout ZIP names itself: a manifest member at its root (archive.py writes it)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

MANIFEST = "tracktracker-takeout.json"
KIND = "tracktracker-takeout"
HISTORY = "history/"  # what an import of a takeout loads; the rest is rebuilt from it or kept aside


def is_takeout(path: Path) -> bool:
    """A ZIP TrackTracker wrote with `tracktracker export` (its manifest says so)."""
    try:
        with zipfile.ZipFile(path) as zf:
            if MANIFEST not in zf.namelist():
                return False
            with zf.open(MANIFEST) as member:
                return json.loads(member.read(1 << 20)).get("kind") == KIND
    except (zipfile.BadZipFile, OSError, ValueError, AttributeError):
        return False
