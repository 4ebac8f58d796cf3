"""Superset's chart cache: where it lives (shared by every gunicorn worker) and how it is emptied.

On by default. Locally a file cache in TRACKTRACKER_HOME/superset/cache (0700, files 0600): every worker
of one Superset reads what another wrote, which a per-process cache (SimpleCache) would not. With
TRACKTRACKER_SUPERSET_CACHE_REDIS_URL (docker-compose's `redis` service) a Redis server instead.
TRACKTRACKER_SUPERSET_CACHE=off turns it off (the warehouse benchmarks measure queries, not the cache).

A listener's results are theirs alone: the feature flag CACHE_QUERY_BY_USER puts the asking user's name
in every chart-data key, and the Superset RLS clause (rendered with `current_username()`) is part of
it too; tests/dashboards/test_cache.py checks that nothing of one listener is served to another.

This module is imported by superset_config.py inside Superset's process: standard library only here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

# Superset's metadata cache (dashboards, datasets) and the chart-data cache: one prefix each, so one
# Redis database holds both and clear() empties exactly one of them
META_PREFIX = "tt_meta_"
DATA_PREFIX = "tt_data_"
# files a file cache keeps before it prunes the oldest: 20 listeners x 4 dashboards x ~35 results
# several times over; a result is a few kilobytes
FILE_THRESHOLD = 20_000


def cache_dir(home: Path, kind: str) -> Path:
    """TRACKTRACKER_HOME/superset/cache/<kind>, created 0700: the cached rows are listeners' plays."""
    root = home / "superset" / "cache"
    path = root / kind
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in (root, path):
        folder.chmod(0o700)
    return path


def cache_configs(
    home: Path, *, enabled: bool, timeout: int, redis_url: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(CACHE_CONFIG, DATA_CACHE_CONFIG) for superset_config.py."""
    if not enabled:
        return {"CACHE_TYPE": "NullCache"}, {"CACHE_TYPE": "NullCache"}
    if redis_url:
        base = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CACHE_DEFAULT_TIMEOUT": timeout}
        return {**base, "CACHE_KEY_PREFIX": META_PREFIX}, {**base, "CACHE_KEY_PREFIX": DATA_PREFIX}
    configs = []
    for kind in ("meta", "data"):
        configs.append(
            {
                "CACHE_TYPE": "FileSystemCache",
                "CACHE_DIR": str(cache_dir(home, kind)),
                "CACHE_DEFAULT_TIMEOUT": timeout,
                "CACHE_THRESHOLD": FILE_THRESHOLD,
                "CACHE_OPTIONS": {"mode": 0o600},
            }
        )
    return configs[0], configs[1]


def clear_chart_data(home: Path, redis_url: str | None) -> int:
    """Drop every cached chart result (after an erasure: keys are hashes, so one listener's entries
    cannot be told apart from the others'; everyone's next view is simply uncached). Returns entries
    dropped."""
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{DATA_PREFIX}*", count=1000))
            return client.delete(*keys) if keys else 0
        finally:
            client.close()
    folder = home / "superset" / "cache" / "data"
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        removed += 1
    return removed
