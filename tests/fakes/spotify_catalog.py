"""Catalog data for the fake Spotify Web API: real recorded payloads plus deterministic derivatives.

The recorded ``recently-played`` responses live in ``data/`` (2026 development-mode shape:
``popularity`` and ``available_markets`` removed). Everything else (full albums, artists, thousands of extra
tracks) is derived from them deterministically, so two catalogs built with the same seed are identical.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

JsonObject = dict[str, Any]

API_HREF_BASE = "https://api.spotify.com/v1"
OPEN_BASE = "https://open.spotify.com"
IMAGE_BASE = "https://i.scdn.co/image/"
FIXTURE_FILE = "recorded_recently_played.json"

# Fields Spotify stopped returning to development-mode apps in February 2026 (migration guide).
REMOVED_TRACK_FIELDS = ("popularity", "available_markets", "linked_from")
REMOVED_ALBUM_FIELDS = ("popularity", "available_markets")
REMOVED_ARTIST_FIELDS = ("popularity", "followers")

_BASE62 = string.digits + string.ascii_letters
SPOTIFY_ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")

# Genres are not in the recordings; this pool is invented but plausible for them.
_GENRES = (
    "regional mexican",
    "norteno",
    "corrido",
    "banda",
    "ranchera",
    "bolero",
    "latin pop",
    "mexican hip hop",
    "pop",
    "piano rock",
    "soft pop",
    "scottish singer-songwriter",
    "hörspiel",
    "indie folk",
    "dance pop",
)


def derive_id(*parts: object) -> str:
    """A deterministic 22-character base62 id (62**22 > 2**128, so 16 hash bytes always fit)."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:16], "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def _hex(*parts: object, length: int = 24) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:length]


def _rng(*parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so this is stable across processes.
    return random.Random("\x1f".join(map(str, parts)))


def strip_removed_fields(track: JsonObject) -> JsonObject:
    """A copy of a track object without the fields development-mode apps no longer receive."""
    clean = {k: v for k, v in track.items() if k not in REMOVED_TRACK_FIELDS}
    if isinstance(clean.get("album"), dict):
        clean["album"] = {k: v for k, v in clean["album"].items() if k not in REMOVED_ALBUM_FIELDS}
    return clean


def simplified_artist(artist_id: str, name: str) -> JsonObject:
    return {
        "external_urls": {"spotify": f"{OPEN_BASE}/artist/{artist_id}"},
        "href": f"{API_HREF_BASE}/artists/{artist_id}",
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def context_object(kind: str, context_id: str) -> JsonObject:
    """A play-history context (``playlist``, ``album``, ``artist``) shaped like the recorded ones."""
    return {
        "type": kind,
        "external_urls": {"spotify": f"{OPEN_BASE}/{kind}/{context_id}"},
        "href": f"{API_HREF_BASE}/{kind}s/{context_id}",
        "uri": f"spotify:{kind}:{context_id}",
    }


def _images(prefix: str, key: str, sizes: tuple[int, ...]) -> list[JsonObject]:
    # Real cover URLs are a 16-hex size prefix plus a 24-hex content hash shared by all sizes.
    digest = _hex("image", key)
    return [{"height": s, "url": f"{IMAGE_BASE}{prefix[i]}{digest}", "width": s} for i, s in enumerate(sizes)]


_ALBUM_IMAGE_PREFIXES = ("ab67616d0000b273", "ab67616d00001e02", "ab67616d00004851")
_ARTIST_IMAGE_PREFIXES = ("ab6761610000e5eb", "ab67616100005174", "ab6761610000f178")


@dataclass(frozen=True)
class Play:
    """One listening event: what the fake returns as a play-history item."""

    track_id: str
    played_at: datetime
    context: JsonObject | None = None

    @property
    def played_at_ms(self) -> int:
        return to_ms(self.played_at)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"played_at must be timezone-aware, got {moment!r}")
    return round(moment.timestamp() * 1000)


def format_played_at(ms: int) -> str:
    """Spotify's ``played_at`` format: UTC, millisecond precision, ``Z`` suffix."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_played_at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Album:
    simplified: JsonObject  # as embedded in track objects
    slots: dict[tuple[int, int], str]  # (disc_number, track_number) -> track id
    label: str
    upc: str


class Catalog:
    """Tracks, albums and artists the fake can serve; thread-safe, grows on demand."""

    def __init__(self, seed: str = "tracktracker") -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self._tracks: dict[str, JsonObject] = {}
        self._albums: dict[str, _Album] = {}
        self._artists: dict[str, str] = {}  # id -> name; full objects are derived on request
        self._recordings: dict[str, JsonObject] = _load_recordings()
        self._derived_albums = 0
        self._derived_track_ids: list[str] = []
        self._words = _word_pools(self._recordings)
        for recording in self._recordings.values():
            for item in recording["response"]["items"]:
                self.add_track(item["track"])

    # ----- recordings -------------------------------------------------------------------------------
    @property
    def recording_names(self) -> list[str]:
        return sorted(self._recordings)

    def recorded_response(self, name: str) -> JsonObject:
        """A recorded response, verbatim except for the 2026 field removals."""
        return copy.deepcopy(self._recordings[name]["response"])

    def recorded_plays(self, name: str) -> list[Play]:
        items = self._recordings[name]["response"]["items"]
        return [Play(i["track"]["id"], parse_played_at(i["played_at"]), i["context"]) for i in items]

    # ----- lookups ----------------------------------------------------------------------------------
    def track(self, track_id: str) -> JsonObject | None:
        with self._lock:
            found = self._tracks.get(track_id)
        return copy.deepcopy(found) if found else None

    def track_ref(self, track_id: str) -> JsonObject:
        """The stored track object itself, for serialising without a copy; callers must not mutate it."""
        return self._tracks[track_id]

    def album(self, album_id: str) -> JsonObject | None:
        with self._lock:
            album = self._albums.get(album_id)
            return self._full_album(album) if album else None

    def artist(self, artist_id: str) -> JsonObject | None:
        with self._lock:
            name = self._artists.get(artist_id)
        return self._full_artist(artist_id, name) if name is not None else None

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._tracks

    def __len__(self) -> int:
        return len(self._tracks)

    # ----- registration -----------------------------------------------------------------------------
    def add_track(self, track: JsonObject) -> str:
        """Register a full track object (extra 2026-removed fields are dropped); returns its id."""
        clean = strip_removed_fields(track)
        with self._lock:
            self._tracks[clean["id"]] = clean
            for artist in [*clean["artists"], *clean["album"]["artists"]]:
                self._artists.setdefault(artist["id"], artist["name"])
            album = self._albums.get(clean["album"]["id"]) or self._register_album(clean["album"])
            album.slots[(clean["disc_number"], clean["track_number"])] = clean["id"]
        return clean["id"]

    def _register_album(self, simplified: JsonObject, guest_pool: int = 0) -> _Album:
        album_id = simplified["id"]
        rng = _rng(self.seed, "album-extra", album_id)
        album = _Album(simplified, {}, self._label(rng), "".join(rng.choices(string.digits, k=12)))
        self._albums[album_id] = album
        self._fill_album(album, guest_pool)
        return album

    def _fill_album(self, album: _Album, guest_pool: int = 0) -> None:
        """Invent the album's other tracks so that full album objects list ``total_tracks`` items.

        Guests come from the first ``guest_pool`` derived artists, so derived data never depends on
        which tracks a test registered before.
        """
        album_id = album.simplified["id"]
        position = 1
        while len(album.slots) < album.simplified["total_tracks"]:
            if (1, position) not in album.slots:
                rng = _rng(self.seed, "filler", album_id, position)
                track_id = derive_id(self.seed, "filler", album_id, position)
                track = self._make_track(rng, track_id, album, position, guest_pool)
                self._tracks[track["id"]] = track
                album.slots[(1, position)] = track["id"]
            position += 1

    # ----- derived catalog --------------------------------------------------------------------------
    def derived_track_ids(self, count: int) -> list[str]:
        """The first ``count`` derived tracks (deterministic for a seed); derives more albums as needed."""
        with self._lock:
            while len(self._derived_track_ids) < count:
                self._derive_album(self._derived_albums)
                self._derived_albums += 1
            return self._derived_track_ids[:count]

    def album_track_ids(self, album_id: str) -> list[str]:
        with self._lock:
            return [self._albums[album_id].slots[k] for k in sorted(self._albums[album_id].slots)]

    def _derive_album(self, index: int) -> None:
        rng = _rng(self.seed, "derived-album", index)
        artist_index = index // 3  # about three albums per artist
        artist = self._derived_artist(artist_index)
        kind = rng.choices(("single", "album", "compilation"), weights=(25, 65, 10))[0]
        total = {"single": rng.randint(1, 3), "album": rng.randint(8, 16), "compilation": rng.randint(15, 25)}
        album_id = derive_id(self.seed, "album", index)
        release, precision = self._release_date(rng)
        simplified = {
            "album_type": kind,
            "artists": [artist],
            "external_urls": {"spotify": f"{OPEN_BASE}/album/{album_id}"},
            "href": f"{API_HREF_BASE}/albums/{album_id}",
            "id": album_id,
            "images": _images(_ALBUM_IMAGE_PREFIXES, album_id, (640, 300, 64)),
            "name": self._title(rng, "album", 1, 4),
            "release_date": release,
            "release_date_precision": precision,
            "total_tracks": total[kind],
            "type": "album",
            "uri": f"spotify:album:{album_id}",
        }
        album = self._register_album(simplified, guest_pool=artist_index + 50)
        self._derived_track_ids.extend(album.slots[k] for k in sorted(album.slots))

    def _derived_artist(self, index: int) -> JsonObject:
        rng = _rng(self.seed, "derived-artist", index)
        artist_id = derive_id(self.seed, "artist", index)
        name = " ".join(rng.choice(self._words["artist"]) for _ in range(rng.randint(1, 3)))
        self._artists[artist_id] = name
        return simplified_artist(artist_id, name)

    def _make_track(
        self, rng: random.Random, track_id: str, album: _Album, number: int, guest_pool: int = 0
    ) -> JsonObject:
        artists = list(album.simplified["artists"])
        if guest_pool and rng.random() < 0.12:  # an occasional featured artist
            guest = self._derived_artist(rng.randrange(guest_pool))
            if guest["id"] not in {a["id"] for a in artists}:
                artists.append(guest)
        return {
            "album": album.simplified,
            "artists": artists,
            "disc_number": 1,
            "duration_ms": max(45_000, min(600_000, int(rng.gauss(210_000, 50_000)))),
            "explicit": rng.random() < 0.15,
            "external_ids": {"isrc": self._isrc(rng)},
            "external_urls": {"spotify": f"{OPEN_BASE}/track/{track_id}"},
            "href": f"{API_HREF_BASE}/tracks/{track_id}",
            "id": track_id,
            "is_local": False,
            "name": self._title(rng, "track", 1, 5),
            "preview_url": None,
            "track_number": number,
            "type": "track",
            "uri": f"spotify:track:{track_id}",
        }

    # ----- full objects -----------------------------------------------------------------------------
    def _full_album(self, album: _Album) -> JsonObject:
        album_id = album.simplified["id"]
        track_ids = [album.slots[k] for k in sorted(album.slots)]
        items = [self._simplified_track(self._tracks[t]) for t in track_ids[:50]]
        year = album.simplified["release_date"][:4]
        return {
            **copy.deepcopy(album.simplified),
            "copyrights": [
                {"text": f"© {year} {album.label}", "type": "C"},
                {"text": f"℗ {year} {album.label}", "type": "P"},
            ],
            "external_ids": {"upc": album.upc},
            "genres": [],  # documented as always empty
            "label": album.label,
            "tracks": {
                "href": f"{API_HREF_BASE}/albums/{album_id}/tracks?offset=0&limit=50",
                "items": items,
                "limit": 50,
                "next": f"{API_HREF_BASE}/albums/{album_id}/tracks?offset=50&limit=50"
                if len(track_ids) > 50
                else None,
                "offset": 0,
                "previous": None,
                "total": len(track_ids),
            },
        }

    @staticmethod
    def _simplified_track(track: JsonObject) -> JsonObject:
        return copy.deepcopy({k: v for k, v in track.items() if k not in ("album", "external_ids")})

    def _full_artist(self, artist_id: str, name: str) -> JsonObject:
        rng = _rng(self.seed, "artist-extra", artist_id)
        genres = [] if rng.random() < 0.2 else sorted(rng.sample(_GENRES, rng.randint(1, 3)))
        return {
            "external_urls": {"spotify": f"{OPEN_BASE}/artist/{artist_id}"},
            "genres": genres,
            "href": f"{API_HREF_BASE}/artists/{artist_id}",
            "id": artist_id,
            "images": _images(_ARTIST_IMAGE_PREFIXES, artist_id, (640, 320, 160)),
            "name": name,
            "type": "artist",
            "uri": f"spotify:artist:{artist_id}",
        }

    # ----- realistic listening ----------------------------------------------------------------------
    def realistic_plays(self, count: int, end: datetime, *, seed: str, gap_ms: int = 0) -> list[Play]:
        """``count`` consecutive plays, newest at ``end``, newest first.

        Like the real history, ``played_at`` marks the end of a play, so two neighbours are the newer
        track's ``duration_ms`` (+ ``gap_ms``) apart. Plays come in runs from one album (album context),
        a playlist, or with no context.
        """
        to_ms(end)  # rejects naive datetimes early
        pool = self.derived_track_ids(max(200, min(5_000, count * 4)))
        rng = _rng(self.seed, "plays", seed)
        tracks: list[tuple[str, JsonObject | None]] = []
        while len(tracks) < count:
            tracks.extend(self._listening_run(rng, pool))
        plays, moment = [], end
        for track_id, context in tracks[:count]:
            plays.append(Play(track_id, moment, context))
            moment -= timedelta(milliseconds=self._tracks[track_id]["duration_ms"] + gap_ms)
        return plays

    def _listening_run(self, rng: random.Random, pool: list[str]) -> Iterator[tuple[str, JsonObject | None]]:
        length = rng.randint(3, 12)
        roll = rng.random()
        if roll < 0.5:  # an album, in order, from a random position
            album = self._tracks[rng.choice(pool)]["album"]
            ids = self.album_track_ids(album["id"])
            start = rng.randrange(len(ids))
            context = context_object("album", album["id"])
            return ((t, context) for t in ids[start : start + length])
        picks = [rng.choice(pool) for _ in range(length)]
        if roll < 0.9:
            context = context_object("playlist", derive_id(self.seed, "playlist", rng.randrange(40)))
            return ((t, context) for t in picks)
        return ((t, None) for t in picks)

    # ----- name material ----------------------------------------------------------------------------
    def _title(self, rng: random.Random, kind: str, low: int, high: int) -> str:
        return " ".join(rng.choice(self._words[kind]) for _ in range(rng.randint(low, high)))

    def _label(self, rng: random.Random) -> str:
        suffix = rng.choice(("Records", "Music", "Discos", "Entertainment"))
        return f"{rng.choice(self._words['album'])} {suffix}"

    @staticmethod
    def _isrc(rng: random.Random) -> str:
        country = rng.choice(("US", "GB", "MX", "DE", "QM", "QZ"))
        registrant = "".join(rng.choices(string.ascii_uppercase + string.digits, k=3))
        return f"{country}{registrant}{rng.randint(0, 99):02d}{rng.randint(0, 99999):05d}"

    @staticmethod
    def _release_date(rng: random.Random) -> tuple[str, str]:
        day = datetime(1965, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(61 * 365))
        if rng.random() < 0.1:
            return str(day.year), "year"
        return day.strftime("%Y-%m-%d"), "day"


def _load_recordings() -> dict[str, JsonObject]:
    fixture = resources.files(__package__).joinpath("data").joinpath(FIXTURE_FILE)
    return json.loads(fixture.read_text(encoding="utf-8"))["recordings"]


def _word_pools(recordings: dict[str, JsonObject]) -> dict[str, list[str]]:
    """Words from the recorded names, so derived names read like the real catalog."""
    pools: dict[str, set[str]] = {"artist": set(), "album": set(), "track": set()}
    for recording in recordings.values():
        for item in recording["response"]["items"]:
            track = item["track"]
            pools["track"].update(_words(track["name"]))
            pools["album"].update(_words(track["album"]["name"]))
            for artist in track["artists"]:
                pools["artist"].update(_words(artist["name"]))
    return {kind: sorted(words) for kind, words in pools.items()}


def _words(name: str) -> list[str]:
    return [w for w in re.findall(r"[^\W\d_]{2,}", name) if not w.isupper() or len(w) <= 3]
