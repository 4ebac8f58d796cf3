"""The catalog: artists -> albums -> tracks with skewed popularity, podcast shows, audiobooks."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from tracktracker_assets.synthetic._rand import _cum, _mix, _pick, _spotify_id, _zipf_cum
from tracktracker_assets.synthetic.names import _album_name, _artist_name, _person, _phrase, _track_name

LANG_WEIGHTS: dict[str, float] = {
    "en": 0.42,
    "es": 0.10,
    "pt": 0.06,
    "fr": 0.05,
    "de": 0.04,
    "vi": 0.03,
    "ja": 0.08,
    "zh": 0.05,
    "ko": 0.06,
    "hi": 0.07,
    "ru": 0.04,
}


class Track(NamedTuple):
    uri: str
    name: str
    artist: str
    album: str
    duration_ms: int
    index: int  # position in Catalog.tracks; albums are contiguous runs, so index + 1 is the next track
    kind = "track"


class Episode(NamedTuple):
    uri: str
    name: str
    show: str
    duration_ms: int
    video: bool
    kind = "episode"


class Chapter(NamedTuple):
    uri: str
    title: str
    book: str
    book_uri: str
    author: str
    duration_ms: int
    kind = "audiobook"


class _Artist(NamedTuple):
    name: str
    lang: str
    first_track: int
    n_tracks: int


class _Album(NamedTuple):
    first_track: int
    n_tracks: int


class _Show(NamedTuple):
    name: str
    publisher: str
    lang: str
    start_ord: int
    cadence_days: int
    mean_ms: int
    video: bool


class _Book(NamedTuple):
    title: str
    author: str
    uri: str
    lang: str
    n_chapters: int


@dataclass(eq=False)
class Catalog:
    """Shared music/podcast/audiobook universe; track popularity is Zipf over artists and within artists."""

    seed: int
    artists: list[_Artist]
    albums: list[_Album]
    tracks: list[Track]
    track_cum: list[float]  # cumulative global popularity in track order (serves artist/album ranges too)
    artist_cum: list[float]
    lang_artists: dict[str, tuple[list[int], list[float]]]
    shows: list[_Show]
    lang_shows: dict[str, list[int]]
    books: list[_Book]
    _episodes: dict[tuple[int, int], Episode] = field(default_factory=dict, repr=False)

    def global_track(self, rnd: Callable[[], float]) -> int:
        return _pick(rnd, self.track_cum)

    def artist_track(self, rnd: Callable[[], float], artist: int, flat: bool = False) -> int:
        """A track of `artist`: by popularity, or uniformly (a fan digging through the discography)."""
        a = self.artists[artist]
        if flat:
            return a.first_track + int(rnd() * a.n_tracks)
        lo = self.track_cum[a.first_track - 1] if a.first_track else 0.0
        last = a.first_track + a.n_tracks - 1
        i = bisect_right(self.track_cum, lo + rnd() * (self.track_cum[last] - lo), a.first_track, last)
        return min(i, last)

    def lang_artist(self, rnd: Callable[[], float], lang: str) -> int:
        ids, cum = self.lang_artists[lang]
        return ids[_pick(rnd, cum)]

    def episode(self, show: int, number: int) -> Episode:
        key = (show, number)
        ep = self._episodes.get(key)
        if ep is None:
            if len(self._episodes) > 50_000:
                self._episodes.clear()  # bounded cache: episodes are re-derived on demand
            ep = self._episodes[key] = self._make_episode(show, number)
        return ep

    def _make_episode(self, show: int, number: int) -> Episode:
        s = self.shows[show]
        rng = random.Random(_mix(self.seed, 7, show, number))
        topic = _phrase(rng, s.lang)
        pattern = rng.random()
        if pattern < 0.35:
            name = f"Ep. {number + 1}: {topic}"
        elif pattern < 0.55:
            name = f"#{number + 1} - {topic}"
        elif pattern < 0.7:
            name = f"{topic} | {s.name}"
        elif pattern < 0.8:
            name = f"{topic} (with {_person(rng, s.lang)})"
        else:
            name = topic
        duration = max(60_000, int(s.mean_ms * rng.uniform(0.6, 1.4)))
        return Episode(
            f"spotify:episode:{_spotify_id(self.seed, 'e', show, number)}", name, s.name, duration, s.video
        )

    def chapter(self, book: int, number: int) -> Chapter:
        b = self.books[book]
        label = {"es": "Capítulo", "pt": "Capítulo", "fr": "Chapitre", "de": "Kapitel"}.get(b.lang, "Chapter")
        title = f"第{number + 1}章" if b.lang in ("ja", "zh") else f"{label} {number + 1}"
        duration = 600_000 + _mix(self.seed, book, number) % 1_800_000
        uri = f"spotify:chapter:{_spotify_id(self.seed, 'c', book, number)}"
        return Chapter(uri, title, b.title, b.uri, b.author, duration)


@lru_cache(maxsize=4)
def build_catalog(seed: int = 1, n_artists: int = 8000) -> Catalog:
    """The shared catalog (~14 tracks per artist); cached because every user of a seed draws from it."""
    rng = random.Random(_mix(seed, 1))
    langs, lang_w = list(LANG_WEIGHTS), _cum(LANG_WEIGHTS.values())
    artists: list[_Artist] = []
    albums: list[_Album] = []
    tracks: list[Track] = []
    weights: list[float] = []
    artist_w = [1.0 / (r + 1) ** 0.9 for r in range(n_artists)]
    rng.shuffle(artist_w)  # popularity rank independent of language and catalog position
    artist_names = [_artist_name(rng, langs[_pick(rng.random, lang_w)]) for _ in range(n_artists)]
    for a in range(n_artists):
        lang = langs[_pick(rng.random, lang_w)]
        name = _artist_name(rng, lang)
        first = len(tracks)
        for _ in range(1 + int(rng.expovariate(1 / 1.2))):
            _add_album(rng, lang, name, artist_names, tracks, albums, seed)
        n = len(tracks) - first
        hits = list(_zipf_cum(n, 1.3))
        hit_w = [hits[0]] + [hits[k] - hits[k - 1] for k in range(1, n)]
        rng.shuffle(hit_w)  # the hit is not always the first track
        weights.extend(artist_w[a] * w / hits[-1] for w in hit_w)
        artists.append(_Artist(name, lang, first, n))
    lang_artists: dict[str, tuple[list[int], list[float]]] = {}
    for lang in langs:
        ids = [i for i, art in enumerate(artists) if art.lang == lang]
        lang_artists[lang] = (ids, _cum(artist_w[i] for i in ids))
    shows = [_make_show(rng, langs[_pick(rng.random, lang_w)]) for _ in range(1200)]
    lang_shows = {lang: [i for i, s in enumerate(shows) if s.lang == lang] for lang in langs}
    books = [_make_book(rng, seed, i) for i in range(250)]
    return Catalog(
        seed, artists, albums, tracks, _cum(weights), _cum(artist_w), lang_artists, shows, lang_shows, books
    )


def _add_album(
    rng: random.Random,
    lang: str,
    artist: str,
    others: list[str],
    tracks: list[Track],
    albums: list[_Album],
    seed: int,
) -> None:
    x = rng.random()
    size = 1 if x < 0.35 else rng.randint(3, 6) if x < 0.6 else rng.randint(8, 16)
    first = len(tracks)
    names = [_track_name(rng, lang, rng.choice(others)) for _ in range(size)]
    album = names[0] if size == 1 else _album_name(rng, lang)  # singles are named after their track
    for name in names:
        duration = int(rng.lognormvariate(math.log(205_000), 0.28))
        duration = min(max(duration, 45_000), 720_000)
        if rng.random() < 0.2:
            duration -= duration % 1000  # many real durations are whole seconds (228000, 192000)
        idx = len(tracks)
        uri = f"spotify:track:{_spotify_id(seed, 't', idx)}"
        tracks.append(Track(uri, name, artist, album, duration, idx))
    albums.append(_Album(first, size))


def _make_show(rng: random.Random, lang: str) -> _Show:
    topic = _phrase(rng, lang, 2)
    x = rng.random()
    if lang == "en":
        name = (
            f"The {topic} Podcast"
            if x < 0.3
            else f"{topic} Talk"
            if x < 0.5
            else f"Two Friends, One {topic}"
            if x < 0.6
            else f"Daily {topic}"
            if x < 0.7
            else topic
        )
    else:
        name = {
            "pt": f"Café com {topic}",
            "es": f"Hablemos de {topic}",
            "ja": f"{topic}ラジオ",
            "hi": f"{topic} की बातें",
            "ru": f"Разговоры: {topic}",
        }.get(lang, topic)
    cadence = rng.choice((1, 3, 7, 7, 7, 7, 14))
    start = date(2012, 1, 1).toordinal() + rng.randrange(0, 12 * 365)
    return _Show(
        name, _person(rng, lang), lang, start, cadence, rng.randrange(12, 95) * 60_000, rng.random() < 0.1
    )


def _make_book(rng: random.Random, seed: int, i: int) -> _Book:
    lang = "en" if rng.random() < 0.7 else rng.choice(("es", "pt", "fr", "de", "ja"))
    title = _phrase(rng, lang)
    if rng.random() < 0.2:
        title = f"{title}: A Novel"
    return _Book(
        title, _person(rng, lang), f"spotify:audiobook:{_spotify_id(seed, 'b', i)}", lang, rng.randint(8, 40)
    )
