"""Test listeners whose history runs up to now, so that "Current listening" has something to show.

Real exports (tests/conftest.py `real_gold`) stop years ago. These three synthetic listeners share one
catalog (so the global charts have tracks played by >= k of them) and listen in different time zones
(Kolkata's half-hour offset moves plays across local hours and dates). Their plays are a fixed window
of generated history shifted by whole days so that the newest play ended within the last 24 hours:
the same music every run, local hours of day preserved. Alice also listens on a second service:
ListenBrainz submissions of other music over the last weeks (`write_listenbrainz_listens`), so the
per-service charts and filters have two services to show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tracktracker_assets.synthetic import build_catalog, iter_plays, make_user, write_export

SEED = 20261124
WINDOW = (date(2026, 5, 1), date(2026, 9, 1))
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Listener:
    user_id: str
    display_name: str
    timezone: str


LISTENERS = (
    Listener("alice", "Alice Liddell", "Europe/Berlin"),
    Listener("bob", "Bob Marley-Fan", "America/New_York"),
    Listener("carol", "Carol Kapoor", "Asia/Kolkata"),
)


def write_recent_exports(out_dir: Path, now: datetime | None = None) -> dict[str, list[Path]]:
    """One "current" extended-history export per listener, ending within the last 24 hours."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    catalog = build_catalog(SEED)
    files = {}
    for listener in LISTENERS:
        user = make_user(
            listener.user_id,
            seed=SEED,
            tz=listener.timezone,
            display_name=listener.display_name,
            since=WINDOW[0],
            plays_per_day=45.0,
            podcasts=True,
            audiobooks=True,
            catalog=catalog,
        )
        plays = list(iter_plays(user, *WINDOW))
        shift = (now_ms - plays[-1].end_ms) // DAY_MS * DAY_MS
        moved = [
            p._replace(start_ms=p.start_ms + shift, end_ms=p.end_ms + shift, offline_ms=p.offline_ms + shift)
            for p in plays
        ]
        export_end = datetime.fromtimestamp(now_ms / 1000, UTC)
        files[listener.user_id] = write_export(
            user, out_dir / listener.user_id, "current", plays=moved, export_end=export_end
        )
    return files


# Alice's ListenBrainz listens: a few plays a day, every third day, over the last LISTENBRAINZ_DAYS days
# (music Spotify's synthetic catalogue does not have, so no play is one Spotify already holds)
LISTENBRAINZ_DAYS = 60
LISTENBRAINZ_TRACKS = (
    ("Nina Simone", "Feeling Good", "I Put a Spell on You", 173_000),
    ("Miles Davis", "So What", "Kind of Blue", 562_000),
    ("Björk", "Jóga", "Homogenic", 305_000),
    ("Fela Kuti", "Water No Get Enemy", "Expensive Shit", 586_000),
)


def write_listenbrainz_listens(out_dir: Path, now: datetime | None = None) -> Path:
    """Alice's ListenBrainz export month file (listens/<year>/<month>.jsonl), newest listen 2 hours ago."""
    newest = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(hours=2)
    lines = []
    for day in range(0, LISTENBRAINZ_DAYS, 3):
        start = newest - timedelta(days=day)
        for artist, track, release, duration_ms in LISTENBRAINZ_TRACKS:
            start -= timedelta(milliseconds=duration_ms)
            lines.append(
                json.dumps(
                    {
                        "listened_at": int(start.timestamp()),
                        "track_metadata": {
                            "artist_name": artist,
                            "track_name": track,
                            "release_name": release,
                            "additional_info": {"duration_ms": duration_ms, "submission_client": "tt-tests"},
                        },
                    },
                    ensure_ascii=False,
                )
            )
    path = out_dir / "alice-listenbrainz" / "listens" / f"{newest:%Y}" / f"{newest:%m}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
