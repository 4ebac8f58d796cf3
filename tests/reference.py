"""An independent, plain-Python reading of Spotify exports: what gold must say about them.

Deliberately written from the export formats and the platform's counting rules (a play counts from 30 s
on; the same event in two exports counts once), not from the project's code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

COUNTED_MS = 30_000


def norm(name: str | None) -> str:
    return re.sub(r"\s+", " ", (name or "").strip(" ")).lower()


def key(*parts: str) -> str:
    """Conformed keys are documented as md5 of kind and normalised names; ties in rankings break on them."""
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def clean(name: str | None) -> str | None:
    """Like SQL nullif(btrim(name), ''): spaces trimmed, empty means none."""
    return (name.strip(" ") or None) if name is not None else None


@dataclass(frozen=True)
class Event:
    ended_at: datetime
    ms: int
    kind: str  # track | episode | audiobook | unknown
    track: str | None
    artist: str | None


def _extended(row: dict) -> tuple[tuple, Event]:
    track = clean(
        row.get("master_metadata_track_name") or row.get("episode_name") or row.get("audiobook_chapter_title")
    )
    artist = clean(
        row.get("master_metadata_album_artist_name")
        or row.get("episode_show_name")
        or row.get("audiobook_title")
    )
    uri = (
        row.get("spotify_track_uri")
        or row.get("spotify_episode_uri")
        or row.get("audiobook_chapter_uri")
        or row.get("audiobook_uri")
    )
    if row.get("spotify_track_uri") or row.get("master_metadata_track_name"):
        kind = "track"
    elif row.get("spotify_episode_uri") or row.get("episode_name"):
        kind = "episode"
    elif row.get("audiobook_chapter_uri") or row.get("audiobook_uri") or row.get("audiobook_title"):
        kind = "audiobook"
    else:
        kind = "unknown"
    ended = datetime.strptime(row["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return ("ext", ended, row["ms_played"], uri, track, artist), Event(
        ended, row["ms_played"], kind, track, artist
    )


def _account(row: dict) -> tuple[tuple, Event]:
    ended = datetime.strptime(row["endTime"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    if row.get("podcastName") or row.get("episodeName"):
        kind, track, artist = "episode", row.get("episodeName"), row.get("podcastName")
    elif row.get("audiobookName") or row.get("chapterName"):
        kind, track, artist = (
            "audiobook",
            row.get("chapterName"),
            row.get("authorName") or row.get("audiobookName"),
        )
    else:
        kind, track, artist = "track", row.get("trackName"), row.get("artistName")
    track, artist = clean(track), clean(artist)
    album = clean(row.get("podcastName") or row.get("audiobookName"))
    return ("acc", ended, row["msPlayed"], kind, track, artist, album), Event(
        ended, row["msPlayed"], kind, track, artist
    )


def read_events(files: list[Path]) -> list[Event]:
    """Distinct listening events of one person's files (same record twice = one event)."""
    seen: dict[tuple, Event] = {}
    for path in files:
        for row in json.loads(path.read_text(encoding="utf-8")):
            key, event = _extended(row) if "ts" in row else _account(row)
            seen.setdefault(key, event)
    return list(seen.values())


@dataclass
class Expected:
    events: int
    counted: int
    total_ms: int
    distinct_tracks: int
    top_tracks: list[tuple[str, str, int]]
    top_artists: list[tuple[str, int]]
    plays_by_local_hour: dict[int, int]


def expected_figures(events: list[Event], timezone: str = "UTC") -> Expected:
    music = [e for e in events if e.kind == "track"]
    track_counted: Counter = Counter()
    track_ms: Counter = Counter()
    track_name: dict[tuple, tuple[datetime, str, str]] = {}
    artist_counted: Counter = Counter()
    artist_ms: Counter = Counter()
    artist_name: dict[str, tuple[datetime, str]] = {}
    for e in music:
        tkey = (norm(e.artist), norm(e.track))
        track_counted[tkey] += e.ms >= COUNTED_MS
        track_ms[tkey] += e.ms
        if tkey not in track_name or e.ended_at > track_name[tkey][0]:
            track_name[tkey] = (e.ended_at, e.track or "(unknown)", e.artist or "(unknown)")
        if e.artist:
            akey = norm(e.artist)
            artist_counted[akey] += e.ms >= COUNTED_MS
            artist_ms[akey] += e.ms
            if akey not in artist_name or e.ended_at > artist_name[akey][0]:
                artist_name[akey] = (e.ended_at, e.artist)
    top_tracks = sorted(track_counted, key=lambda k: (-track_counted[k], -track_ms[k], track_name[k][1]))[:5]
    top_artists = sorted(
        artist_counted, key=lambda k: (-artist_counted[k], -artist_ms[k], artist_name[k][1])
    )[:5]
    zone = ZoneInfo(timezone)
    hours: dict[int, int] = defaultdict(int)
    for e in events:
        hours[e.ended_at.astimezone(zone).hour] += 1
    return Expected(
        events=len(events),
        counted=sum(e.ms >= COUNTED_MS for e in events),
        total_ms=sum(e.ms for e in events),
        distinct_tracks=len({(norm(e.artist), norm(e.track)) for e in music}),
        top_tracks=[(track_name[k][1], track_name[k][2], track_counted[k]) for k in top_tracks],
        top_artists=[(artist_name[k][1], artist_counted[k]) for k in top_artists],
        plays_by_local_hour=dict(hours),
    )


@dataclass
class Period:
    """What a year in review (or any period of local dates [start, end)) must say."""

    minutes: float
    counted: int
    artist_counted: dict[str, int]  # every music artist played in the period: counted plays, by name
    top_artists: list[tuple[str, int]]
    longest_streak: int
    new_artists: int


def longest_streak(days: set[date]) -> int:
    """The most consecutive days in `days`."""
    best = 0
    for day in days:
        if day - timedelta(days=1) not in days:  # a streak starts here: walk it
            length = 1
            while day + timedelta(days=length) in days:
                length += 1
            best = max(best, length)
    return best


def period_figures(events: list[Event], timezone: str, start: date, end: date) -> Period:
    """Minutes, counted plays, top artists (ties broken as Spotify's counting would not: by time
    listened, then name), the longest run of days with a counted play, and the music artists first
    played ever in the period, all in the listener's local dates."""
    zone = ZoneInfo(timezone)

    def local(e: Event) -> date:
        return e.ended_at.astimezone(zone).date()

    first_day: dict[str, date] = {}
    for e in events:
        if e.kind == "track" and e.artist:
            akey = norm(e.artist)
            first_day[akey] = min(first_day.get(akey, local(e)), local(e))
    inside = [e for e in events if start <= local(e) < end]
    counted: Counter = Counter()
    listened: Counter = Counter()
    name: dict[str, tuple[datetime, str]] = {}
    for e in inside:
        if e.kind == "track" and e.artist:
            akey = norm(e.artist)
            counted[akey] += e.ms >= COUNTED_MS
            listened[akey] += e.ms
            if akey not in name or e.ended_at > name[akey][0]:
                name[akey] = (e.ended_at, e.artist)
    top = sorted(counted, key=lambda k: (-counted[k], -listened[k], name[k][1]))[:5]
    return Period(
        minutes=sum(e.ms for e in inside) / 60000,
        counted=sum(e.ms >= COUNTED_MS for e in inside),
        artist_counted={name[k][1]: counted[k] for k in counted},
        top_artists=[(name[k][1], counted[k]) for k in top],
        longest_streak=longest_streak({local(e) for e in inside if e.ms >= COUNTED_MS}),
        new_artists=sum(start <= day < end for day in first_day.values()),
    )
