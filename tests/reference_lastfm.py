"""An independent, plain-Python reading of Last.fm scrobble exports: what bronze must hold of them.

Written from the formats (stdlib json and csv, no project code): a scrobble is (UTC start in whole
seconds, artist, track, album or None); a track Last.fm was still playing (no date) is none.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

Scrobble = tuple[datetime, str, str, str | None]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def lastfmstats_json(path: Path) -> list[Scrobble]:
    export = json.loads(path.read_text(encoding="utf-8-sig"))
    return [(_at(s["date"] / 1000), s["artist"], s["track"], s["album"] or None) for s in export["scrobbles"]]


def ghan_csv(path: Path) -> list[Scrobble]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(_at(int(r["uts"])), r["artist"], r["track"], r["album"] or None) for r in csv.DictReader(f)]


def recent_tracks_json(path: Path) -> list[Scrobble]:
    document = json.loads(path.read_text(encoding="utf-8"))
    pages = document if isinstance(document, list) else [document]
    found = []
    for page in pages:
        page = page.get("recenttracks", page)
        tracks = page["track"] if isinstance(page["track"], list) else [page["track"]]
        for t in tracks:
            if "date" not in t:
                continue  # now playing
            artist = t["artist"].get("#text") or t["artist"].get("name")
            found.append((_at(int(t["date"]["uts"])), artist, t["name"], t["album"]["#text"] or None))
    return found


def now_playing(path: Path) -> int:
    page = json.loads(path.read_text(encoding="utf-8"))["recenttracks"]
    tracks = page["track"] if isinstance(page["track"], list) else [page["track"]]
    return sum(1 for t in tracks if t.get("@attr", {}).get("nowplaying") == "true")


def events(scrobbles: list[Scrobble]) -> set[Scrobble]:
    """Distinct listening events: the same start, artist, track and album is one scrobble seen twice."""
    return set(scrobbles)


def with_track_mbid(path: Path) -> int:
    """Scrobbles of a ghan CSV or API-page file that name their track's MusicBrainz id."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return sum(1 for r in csv.DictReader(f) if r["track_mbid"])
    page = json.loads(path.read_text(encoding="utf-8"))["recenttracks"]
    tracks = page["track"] if isinstance(page["track"], list) else [page["track"]]
    return sum(1 for t in tracks if "date" in t and t["mbid"])
