"""The demo preset: three invented listeners whose history can be moved to end at the present."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from tracktracker_assets.synthetic._time import DAY_MS
from tracktracker_assets.synthetic.catalog import build_catalog
from tracktracker_assets.synthetic.listeners import UserProfile, make_user
from tracktracker_assets.synthetic.plays import Play, iter_plays
from tracktracker_assets.synthetic.writer import write_export


class DemoSpec(NamedTuple):
    user_id: str
    display_name: str
    tz: str
    fmt: str
    ranges: tuple[tuple[date, date], ...]  # one export per range
    plays_per_day: float
    # shifted so the last export ends at the moment of generation: the demo then has a "current
    # listening" to show (its dates are the only thing that changes between runs)
    ends_now: bool = False


DEMO_SEED = 20240501
DEMO_USERS: tuple[DemoSpec, ...] = (
    DemoSpec(
        "demo-ana",
        "Ana Ribeiro",
        "Europe/Lisbon",
        "current",
        ((date(2024, 11, 1), date(2026, 11, 1)),),
        30.0,
        ends_now=True,
    ),
    # an older export whose second year overlaps the others' first: Global trends needs weeks in which
    # at least three listeners listened (the demo has exactly three)
    DemoSpec(
        "demo-kenji",
        "Kenji Watanabe",
        "Asia/Tokyo",
        "endsong",
        ((date(2023, 12, 1), date(2025, 12, 10)),),
        26.0,
    ),
    # account data covers one year, so two years means two requests; they overlap by a month
    DemoSpec(
        "demo-sam",
        "Sam Carter",
        "America/Chicago",
        "account",
        ((date(2024, 10, 15), date(2025, 11, 15)), (date(2025, 10, 15), date(2026, 10, 15))),
        28.0,
        ends_now=True,
    ),
)


@dataclass
class DemoUser:
    user_id: str
    display_name: str
    tz: str
    format: str
    files: list[Path]


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _demo_days_shift(user: UserProfile, synthetic_end: datetime, now: datetime) -> int:
    """Whole days to move a listener's plays so their history ends at `now` right after a day with
    listening: the demo's Current listening then has something to show at any hour. Whole days keep
    every play's time of day (the hour x weekday patterns)."""
    time_of_day = now - _midnight_utc(now.date())
    for back in range(1, 15):
        moment = _midnight_utc(synthetic_end.date()) - timedelta(days=back) + time_of_day
        if sum(1 for _ in iter_plays(user, moment - timedelta(hours=24), moment)) >= 10:
            break
    return round((now - moment) / timedelta(days=1))


def _shifted(play: Play, days: int) -> Play:
    ms = days * DAY_MS
    return play._replace(
        start_ms=play.start_ms + ms,
        end_ms=play.end_ms + ms,
        offline_ms=play.offline_ms + ms if play.offline_ms else play.offline_ms,
    )


def generate_demo(out_dir: str | Path, now: datetime | None = None) -> dict[str, DemoUser]:
    """The demo: 3 users, ~2 years each, as out_dir/<user_id>/... files. Two of them listen up to `now`
    (default: the current time); for the same `now` the bytes are the same on every run."""
    out = Path(out_dir)
    now = now or datetime.now(UTC)
    catalog = build_catalog(DEMO_SEED)
    result = {}
    for spec in DEMO_USERS:
        user = make_user(
            spec.user_id,
            seed=DEMO_SEED,
            tz=spec.tz,
            display_name=spec.display_name,
            since=spec.ranges[0][0],
            plays_per_day=spec.plays_per_day,
            podcasts=True,
            audiobooks=spec.fmt == "current",
            catalog=catalog,
        )
        # the listener's plays come from the fixed synthetic timeline, moved forward by whole days
        synthetic = [(_midnight_utc(a), _midnight_utc(b)) for a, b in spec.ranges]
        days = _demo_days_shift(user, synthetic[-1][1], now) if spec.ends_now else 0
        moved = timedelta(days=days)
        files: list[Path] = []
        for start, end in synthetic:
            real_end = min(end + moved, now)
            target = (
                out / spec.user_id
                if len(synthetic) == 1
                else out / spec.user_id / f"export-{real_end:%Y-%m-%d}"
            )
            plays = (_shifted(p, days) for p in iter_plays(user, start, real_end - moved))
            files += write_export(user, target, spec.fmt, start + moved, real_end, plays=plays)
        result[spec.user_id] = DemoUser(spec.user_id, spec.display_name, spec.tz, spec.fmt, files)
    return result
