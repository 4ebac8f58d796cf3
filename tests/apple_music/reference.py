"""An independent plain-Python reading of Apple's sample files, written from the formats (not from the
product's code), for tests to compare the loaded and modelled results with.

What counts as a play (the rule stg_apple_music__play_activity documents):
- Play Activity: an end event (Event Type PLAY_END, or empty with an End Reason Type, as in older
  files) with an end time, a song name and a positive play duration, that is not an ad. Events of
  one person that are the same song (same song name, album and artist), follow each other, begin at
  most 5 s after the previous ended and whose previous did not end naturally are fragments (seek,
  pause) of one play: their durations add up, capped at the song's length.
- Track Play History: one play per (time in ms, Track Name), whatever Is User Initiated says.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REAL = Path("/work/shared/data/real/other-platforms")
PLAY_ACTIVITY_OLD = REAL / "vietvudanh--Apple_Music_Play_Activity.csv"
PLAY_ACTIVITY_NEW = REAL / "nerveband--Apple_Music_Play_Activity_small.csv"
TRACK_PLAY_HISTORY = REAL / "bbookman--Apple_Music_-_Track_Play_History.csv"
DAILY_2015 = REAL / "nerveband--Apple_Music_-_Play_History_Daily_Tracks.csv"
DAILY_2025 = REAL / "intro-to-data-jx--Apple_Music_-_Play_History_Daily_Tracks.csv"
RECENT_2020 = REAL / "Brody-Upton--Apple_Music_-_Recently_Played_Tracks.csv"
RECENT_2024 = REAL / "nerveband--Apple_Music_-_Recently_Played_Tracks.csv"
LIBRARY_2020 = REAL / "Brody-Upton--Apple_Music_Library_Tracks.json"
LIBRARY_2026 = REAL / "willianfnobrega--Apple_Music_Library_Tracks.json"
MERGE_GAP = timedelta(seconds=5)


def csv_records(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def json_records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def _time(value: str) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value.strip() else None


def _number(value: str) -> int | None:
    return int(float(value)) if value.strip() else None


@dataclass
class Play:
    song: str
    album: str | None
    artist: str | None
    started_at: datetime
    ended_at: datetime
    ms_played: int
    media_ms: int | None
    fragments: int = 1


def _is_end_event(r: dict[str, str]) -> bool:
    kind = r.get("Event Type", "").strip()
    return kind == "PLAY_END" or (kind == "" and r.get("End Reason Type", "").strip() != "")


def play_activity_plays(path: Path, *, merge: bool = True) -> list[Play]:
    """The file's plays (merge=False: its end events that are plays, fragments not merged)."""
    events = []
    seen = set()
    for r in csv_records(path):
        song = (r.get("Song Name") or r.get("Content Name") or "").strip()
        duration = _number(r["Play Duration Milliseconds"])
        end = _time(r["Event End Timestamp"])
        if not _is_end_event(r) or not song or end is None or not duration or duration <= 0:
            continue
        if r.get("Item Type") in ("AD", "AGGREGATE_NON_CATALOG_PLAY_TIME"):
            continue
        start = _time(r["Event Start Timestamp"]) or end - timedelta(milliseconds=duration)
        key = (
            r["Event Start Timestamp"],
            r["Event End Timestamp"],
            r["Event Received Timestamp"],
            song,
            duration,
            r.get("End Reason Type"),
            r["Start Position In Milliseconds"],
            r["End Position In Milliseconds"],
        )
        if key in seen:
            continue
        seen.add(key)
        album = (r.get("Album Name") or r.get("Container Album Name") or "").strip() or None
        artist = (r.get("Artist Name") or r.get("Container Artist Name") or "").strip() or None
        media = _number(r.get("Media Duration In Milliseconds", ""))
        events.append((start, end, song, album, artist, duration, media, r.get("End Reason Type", "")))
    events.sort(key=lambda e: (e[0], e[1]))
    plays: list[Play] = []
    previous_reason = previous_end = None
    for start, end, song, album, artist, duration, media, reason in events:
        last = plays[-1] if plays else None
        if (
            merge
            and last is not None
            and (last.song.lower(), (last.album or "").lower(), (last.artist or "").lower())
            == (song.lower(), (album or "").lower(), (artist or "").lower())
            and previous_reason != "NATURAL_END_OF_TRACK"
            and start <= previous_end + MERGE_GAP
        ):
            last.ended_at = max(last.ended_at, end)
            last.ms_played += duration
            last.media_ms = max(filter(None, (last.media_ms, media)), default=None)
            last.fragments += 1
        else:
            plays.append(Play(song, album, artist, start, end, duration, media))
        previous_reason, previous_end = reason, end
    for play in plays:
        if play.media_ms and play.media_ms > 0:
            play.ms_played = min(play.ms_played, play.media_ms)
    return plays


def artist_hints(*paths: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str], set[str]]]:
    """Artists by title (all hint files) and by (title, album) (the library), lower-cased."""
    by_title: dict[str, set[str]] = defaultdict(set)
    by_title_album: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in paths:
        if path.suffix == ".json":
            for r in json_records(path):
                if r.get("Title") and r.get("Artist"):
                    by_title[r["Title"].lower()].add(r["Artist"].lower())
                    if r.get("Album"):
                        by_title_album[(r["Title"].lower(), r["Album"].lower())].add(r["Artist"].lower())
        else:
            for r in csv_records(path):
                parts = r["Track Description"].split(" - ")
                if parts[0].lower() == "null":  # Apple's unknown artist
                    continue
                for i in range(1, len(parts)):
                    artist, title = " - ".join(parts[:i]), " - ".join(parts[i:])
                    by_title[title.lower()].add(artist.lower())
    return by_title, by_title_album


def unresolved_artists(plays: list[Play], *hint_paths: Path) -> int:
    by_title, by_title_album = artist_hints(*hint_paths)
    left = 0
    for play in plays:
        if play.artist:
            continue
        if len(by_title_album.get((play.song.lower(), (play.album or "").lower()), ())) == 1:
            continue
        if len(by_title.get(play.song.lower(), ())) == 1:
            continue
        left += 1
    return left


def track_play_history_plays(path: Path) -> set[tuple[int, str]]:
    """One play per millisecond and Track Name, whatever its case and spaces (Apple writes some
    plays twice: user-initiated or not, and "NORTHERN LIGHTS" beside "Northern Lights")."""
    return {
        (int(r["Last Played Date"]), " ".join(r["Track Name"].split()).lower()) for r in csv_records(path)
    }
