"""dbt's manifest.json, parsed once per version of the file in a process.

A refresh reads it in several checks before and after its build (which staging tables no new load
reaches, which tests read only empty tables, whether the views are current, and marking what was
built): 1.5 MB of JSON, ~15 ms a parse each time. The command process's forks inherit a parse made
before them, as long as the file is unchanged (its path, size and modification time).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any


def read_manifest(path: Path) -> dict[str, Any]:
    """The parsed manifest; shared between callers, so read only."""
    stat = path.stat()
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
