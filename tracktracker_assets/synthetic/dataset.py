"""Datasets for benchmarks: many users, an exact total of plays, formats assigned round-robin."""

from __future__ import annotations

import json
import random
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tracktracker_assets.synthetic._rand import _mix
from tracktracker_assets.synthetic._time import _to_ms, _ts
from tracktracker_assets.synthetic.catalog import Catalog, build_catalog
from tracktracker_assets.synthetic.listeners import UserProfile, make_user, natural_plays_per_day
from tracktracker_assets.synthetic.plays import Play, _DayMaker, _local_day, iter_plays
from tracktracker_assets.synthetic.vintages import ACCOUNT_FORMATS, ALL_FORMATS
from tracktracker_assets.synthetic.writer import write_export

MAX_PLAYS_PER_DAY = 250.0  # ~12 hours of music every day
# Typical export date per format (the era the vintage belongs to), and how far users spread around it.
_ERA_END = {
    "endsong": date(2022, 11, 1),
    "audio2024": date(2024, 5, 1),
    "late2024": date(2024, 11, 15),
    "current": date(2026, 9, 1),
    "account": date(2025, 10, 1),
    "account-legacy": date(2021, 6, 1),
}


@dataclass
class DatasetSummary:
    out_dir: Path
    users: list[dict[str, Any]]
    plays: int
    seconds: float
    peak_rss_mb: float


def _allocate(total: int, n_users: int, rng: random.Random) -> list[int]:
    """Heavy and light listeners: lognormal shares, rounded so they sum to `total` exactly."""
    weights = [rng.lognormvariate(0, 0.8) for _ in range(n_users)]
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(s) for s in shares]
    order = sorted(range(n_users), key=lambda i: counts[i] - shares[i])
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _peak_rss_mb() -> float:
    """Peak RSS of this process. VmHWM first: ru_maxrss survives execve, so a child forked from a big
    process (pytest) would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_dataset(
    out_dir: str | Path,
    n_users: int = 50,
    n_plays: int = 1_000_000,
    *,
    seed: int = 1,
    formats: Sequence[str] = ALL_FORMATS,
    as_zip: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DatasetSummary:
    """Many users, exactly n_plays plays in total, formats assigned round-robin; writes manifest.json."""
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}; expected some of {', '.join(ALL_FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(_mix(seed, 3))
    counts = _allocate(n_plays, n_users, rng)
    catalog = build_catalog(seed)
    began = time.perf_counter()
    users, total = [], 0
    for i, count in enumerate(counts):
        fmt = formats[i % len(formats)]
        entry = _dataset_user(out, f"user-{i + 1:04d}", fmt, count, seed, catalog, rng, as_zip)
        users.append(entry)
        total += entry["plays"]
        if progress:
            progress(
                f"{entry['user_id']} {fmt:<14} {entry['plays']:>9,} plays  {total:>11,} total  "
                f"{time.perf_counter() - began:7.1f} s"
            )
    summary = DatasetSummary(out, users, total, time.perf_counter() - began, _peak_rss_mb())
    manifest = {"generator": "tracktracker_assets.synthetic", "seed": seed, "plays": total, "users": users}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return summary


def _dataset_user(
    out: Path,
    user_id: str,
    fmt: str,
    count: int,
    seed: int,
    catalog: Catalog,
    rng: random.Random,
    as_zip: bool,
) -> dict[str, Any]:
    end = _ERA_END[fmt] + timedelta(days=rng.randrange(0, 60))
    max_days = 365 if fmt in ACCOUNT_FORMATS else 12 * 365  # account data covers the past year only
    # a day holds only so much music: huge per-user counts stretch the span instead of the rate
    ppd = min(MAX_PLAYS_PER_DAY, max(natural_plays_per_day(user_id, seed), count / max_days))
    reach = min(30 * 365, int(3 * count / ppd) + 60)  # far enough back for the count, with margin
    user = make_user(
        user_id,
        seed=seed,
        catalog=catalog,
        since=end - timedelta(days=reach),
        plays_per_day=ppd,
        audiobooks=None if fmt in ("current", "account") else False,
    )
    end_ms = _to_ms(end) or 0
    start_ms = _start_for_count(user, end_ms, count)
    counter = _Counter(iter_plays(user, datetime.fromtimestamp(start_ms / 1000, UTC), end))
    files = write_export(user, out / user_id, fmt, plays=counter, as_zip=as_zip, export_end=end)
    return {
        "user_id": user_id,
        "display_name": user.display_name,
        "tz": user.tz,
        "country": user.country,
        "format": fmt,
        "plays": counter.n,
        "rows": counter.n,
        "first_ts": counter.first,
        "last_ts": counter.last,
        "files": [str(p.relative_to(out)) for p in files],
    }


def _start_for_count(user: UserProfile, end_ms: int, count: int) -> int:
    """Start instant such that [start, end) holds exactly `count` plays (walks days backwards)."""
    maker = _DayMaker(user)
    day_ord, total = _local_day(user, end_ms - 1), 0
    while count and day_ord >= maker.since_ord:
        plays = [p for p in maker.day(day_ord) if p.end_ms < end_ms]
        if total + len(plays) >= count:
            return plays[len(plays) - (count - total)].end_ms
        total += len(plays)
        day_ord -= 1
    return end_ms if not count else _to_ms(user.since) or 0


class _Counter:
    """Pass-through iterator that remembers how many plays went by and their time span."""

    def __init__(self, plays: Iterable[Play]) -> None:
        self.plays, self.n, self.first, self.last, self.last_ms = iter(plays), 0, "", "", 0

    def __iter__(self) -> Iterator[Play]:
        for play in self.plays:
            if not self.n:
                self.first = play.ts
            self.n += 1
            self.last_ms = play.end_ms
            yield play
        if self.n:
            self.last = _ts(self.last_ms)
