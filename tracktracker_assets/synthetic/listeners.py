"""Listeners: home zone, devices, taste, rhythm (UserProfile and make_user)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tracktracker_assets.synthetic._rand import _cum, _key, _mix, _pick, _zipf_cum
from tracktracker_assets.synthetic._time import DAY_MS, DAY_START_HOUR, _to_ms
from tracktracker_assets.synthetic.catalog import Catalog, build_catalog
from tracktracker_assets.synthetic.names import _person

# (IANA zone, conn_country, language, weight): users spread across continents.
PLACES: tuple[tuple[str, str, str, float], ...] = (
    ("America/New_York", "US", "en", 6),
    ("America/Chicago", "US", "en", 4),
    ("America/Los_Angeles", "US", "en", 4),
    ("America/Toronto", "CA", "en", 2),
    ("America/Mexico_City", "MX", "es", 3),
    ("America/Sao_Paulo", "BR", "pt", 4),
    ("America/Argentina/Buenos_Aires", "AR", "es", 2),
    ("Europe/London", "GB", "en", 4),
    ("Europe/Lisbon", "PT", "pt", 2),
    ("Europe/Madrid", "ES", "es", 3),
    ("Europe/Paris", "FR", "fr", 3),
    ("Europe/Berlin", "DE", "de", 4),
    ("Europe/Stockholm", "SE", "en", 2),
    ("Europe/Warsaw", "PL", "en", 2),
    ("Europe/Moscow", "RU", "ru", 2),
    ("Europe/Kyiv", "UA", "ru", 1),
    ("Africa/Lagos", "NG", "en", 1),
    ("Africa/Johannesburg", "ZA", "en", 1),
    ("Africa/Cairo", "EG", "en", 1),
    ("Asia/Kolkata", "IN", "hi", 5),
    ("Asia/Ho_Chi_Minh", "VN", "vi", 2),
    ("Asia/Tokyo", "JP", "ja", 3),
    ("Asia/Seoul", "KR", "ko", 2),
    ("Asia/Shanghai", "CN", "zh", 1),
    ("Asia/Taipei", "TW", "zh", 1),
    ("Asia/Jakarta", "ID", "en", 2),
    ("Australia/Sydney", "AU", "en", 2),
    ("Pacific/Auckland", "NZ", "en", 1),
)
_PLACE_CUM = _cum(p[3] for p in PLACES)

# Relative listening by local clock hour (0-23): quiet nights, commute peaks, long evenings.
_WEEKDAY_HOURS = (
    0.35,
    0.18,
    0.09,
    0.05,
    0.03,
    0.08,
    0.45,
    1.3,
    1.7,
    1.2,
    1.0,
    1.0,
    1.15,
    1.05,
    1.0,
    1.05,
    1.3,
    1.8,
    1.9,
    1.6,
    1.55,
    1.45,
    1.1,
    0.7,
)
_WEEKEND_HOURS = (
    0.75,
    0.5,
    0.3,
    0.15,
    0.06,
    0.04,
    0.08,
    0.2,
    0.45,
    0.8,
    1.2,
    1.45,
    1.5,
    1.45,
    1.4,
    1.45,
    1.5,
    1.55,
    1.6,
    1.6,
    1.55,
    1.4,
    1.2,
    0.95,
)

_ANDROID = (
    ("samsung", "SM-G781U"),
    ("samsung", "SM-A525F"),
    ("Google", "Pixel 6"),
    ("OnePlus", "IN2013"),
    ("Xiaomi", "M2101K6G"),
    ("realme", "RMX2002"),
    ("HUAWEI", "LLD-L31"),
    ("motorola", "moto g(8) power"),
)
_ANDROID_API = {8: 26, 9: 28, 10: 29, 11: 30, 12: 31, 13: 33, 14: 34}
_IPHONES = ("iPhone11,8", "iPhone12,1", "iPhone13,2", "iPhone14,5")
_IOS = ("11.4.1", "12.5.5", "13.7", "14.8.1", "15.6.1", "16.1.2", "17.2")  # index 0 current in 2018
_TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation ranges


class Device(NamedTuple):
    kind: str  # phone | tablet | desktop | cast
    modern: str  # platform string of exports from late 2022 on
    legacy_old: str  # platform string before the OS upgrade
    legacy_new: str
    upgrade_ms: int
    ip_prefix: str
    ip_host: int
    user_agent: str
    reports_offline_ts: bool  # some desktop clients leave offline_timestamp null in the newest vintage


def _era(since_ms: int, last: int) -> int:
    """OS generation in use when the account started (0 = 2018), so platform strings fit their dates."""
    return min(max(time.gmtime(since_ms // 1000).tm_year - 2018, 0), last)


def _android(rng: random.Random, tablet: bool, since_ms: int, upgrade_ms: int) -> Device:
    brand, model = ("SAMSUNG", "SM-T870") if tablet else rng.choice(_ANDROID)
    v = max(8, 8 + _era(since_ms, 5) - rng.randint(0, 1))
    label = "Android-tablet" if tablet else "Android"
    old = f"{label} OS {v} API {_ANDROID_API[v]} ({brand}, {model})"
    new = f"{label} OS {v + 1} API {_ANDROID_API[v + 1]} ({brand}, {model})"
    ua = f"Spotify/8.{rng.randint(5, 9)}.{rng.randint(10, 90)} Android/{_ANDROID_API[v]} ({model})"
    return Device(
        "tablet" if tablet else "phone",
        "android",
        old,
        new,
        upgrade_ms,
        _TEST_NETS[0],
        rng.randrange(254),
        ua,
        True,
    )


def _make_devices(rng: random.Random, since_ms: int) -> tuple[Device, ...]:
    upgrade = since_ms + rng.randrange(200, 900) * DAY_MS
    if rng.random() < 0.62:
        phone = _android(rng, False, since_ms, upgrade)
    else:
        model, k = rng.choice(_IPHONES), _era(since_ms, len(_IOS) - 2)
        ua = f"Spotify/8.{rng.randint(5, 9)}.0 iOS/{_IOS[k]} ({model})"
        phone = Device(
            "phone",
            "ios",
            f"iOS {_IOS[k]} ({model})",
            f"iOS {_IOS[k + 1]} ({model})",
            upgrade,
            _TEST_NETS[0],
            rng.randrange(254),
            ua,
            True,
        )
    devices = [phone]
    if rng.random() < 0.55:
        host = rng.randrange(254)
        if rng.random() < 0.65:
            devices.append(
                Device(
                    "desktop",
                    "windows",
                    "Windows 10 (10.0.19044; x64)",
                    "Windows 10 (10.0.22621; x64; AppX)",
                    upgrade,
                    _TEST_NETS[1],
                    host,
                    "Spotify/1.1.84.716 Win32_x86_64/0 (PC desktop)",
                    rng.random() < 0.7,
                )
            )
        else:
            devices.append(
                Device(
                    "desktop",
                    "osx",
                    "OS X 11.6.0 [x86 8]",
                    "OS X 12.5.1 [arm 2]",
                    upgrade,
                    _TEST_NETS[1],
                    host,
                    "Spotify/1.1.84.716 OSX_ARM64/0 (MacBookPro18,1)",
                    True,
                )
            )
    if rng.random() < 0.3:
        chromecast = "Partner google cast_tv;Chromecast;;"
        devices.append(
            Device(
                "cast",
                "cast",
                chromecast,
                chromecast,
                upgrade,
                _TEST_NETS[2],
                rng.randrange(254),
                "unknown",
                True,
            )
        )
    if rng.random() < 0.1:
        devices.append(_android(rng, True, since_ms, upgrade))
    return tuple(devices)


WINDOW_SIZE = 600  # tracks in a user's rolling "current rotation"
WINDOW_STEP = 25  # new tracks entering the rotation every 30 days
# Newest positions of the rotation weigh most: fresh obsessions that fade over months.
_WINDOW_CUM = tuple(_cum((1 + (WINDOW_SIZE - 1 - p) / 80) ** -1.1 for p in range(WINDOW_SIZE)))
_SOURCES = ("core", "window", "artist", "lang", "global", "discover")
_SKIP_FACTOR = (0.45, 0.8, 0.9, 1.2, 1.3, 1.8)  # unfamiliar music is skipped more


@dataclass(frozen=True, eq=False)
class UserProfile:
    """A synthetic listener: everything their plays depend on, derived from (seed, user_id)."""

    user_id: str
    display_name: str
    tz: str
    country: str
    lang: str
    since: date
    seed: int
    plays_per_day: float
    catalog: Catalog = field(repr=False)
    key: int = field(repr=False)
    devices: tuple[Device, ...] = field(repr=False)
    weekend_factor: float = field(repr=False)
    p_off: float = field(repr=False)
    session_len: float = field(repr=False)
    skip_p: float = field(repr=False)
    shuffle_p: float = field(repr=False)
    offline_p: float = field(repr=False)
    incognito_p: float = field(repr=False)
    album_p: float = field(repr=False)
    desk_p: float = field(repr=False)
    podcast_p: float = field(repr=False)
    audiobook_p: float = field(repr=False)
    source_cum: tuple[float, ...] = field(repr=False)
    weekday_cum: tuple[float, ...] = field(repr=False)
    weekend_cum: tuple[float, ...] = field(repr=False)
    core: tuple[int, ...] = field(repr=False)
    fav_artists: tuple[int, ...] = field(repr=False)
    sequence: tuple[int, ...] = field(repr=False)
    shows: tuple[int, ...] = field(repr=False)
    books: tuple[int, ...] = field(repr=False)
    trips: tuple[tuple[int, int, str], ...] = field(repr=False)

    @property
    def username(self) -> str:
        return f"fake-{self.user_id}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def _place(tz: str | None, rng: random.Random) -> tuple[str, str, str]:
    if tz is None:
        z, c, lang, _ = PLACES[_pick(rng.random, _PLACE_CUM)]
        return z, c, lang
    for z, c, lang, _ in PLACES:
        if z == tz:
            return z, c, lang
    return tz, "US", "en"  # unknown zone: still valid, listening tastes default to English


def _hour_cum(base: Sequence[float], shift: int, worker: bool, weekend: bool) -> tuple[float, ...]:
    """Cumulative weights for hours 04:00..03:00 of a listening day."""
    weights = []
    for k in range(24):
        clock = (DAY_START_HOUR + k) % 24
        w = base[(clock - shift) % 24]
        if worker and not weekend and 9 <= clock < 17:
            w *= 1.6
        weights.append(w)
    return tuple(_cum(weights))


def make_user(
    user_id: str,
    *,
    seed: int = 1,
    tz: str | None = None,
    display_name: str | None = None,
    since: date | None = None,
    plays_per_day: float | None = None,
    country: str | None = None,
    podcasts: bool | None = None,
    audiobooks: bool | None = None,
    catalog: Catalog | None = None,
) -> UserProfile:
    """A deterministic listener for (seed, user_id); keyword arguments pin chosen traits."""
    cat = catalog or build_catalog(seed)
    key = _mix(seed, _key(user_id))
    rng = random.Random(key)
    zone, home_country, lang = _place(tz, rng)
    since = since or date(2016, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
    ppd = plays_per_day or natural_plays_per_day(user_id, seed)
    shift = rng.choice((-1, 0, 0, 0, 1, 1, 2))
    worker = rng.random() < 0.45
    fav_artists = _fav_artists(rng, cat, lang)
    listens_podcasts = rng.random() < 0.6 if podcasts is None else podcasts
    reads = rng.random() < 0.15 if audiobooks is None else audiobooks
    mix = [
        rng.uniform(0.08, 0.2),
        rng.uniform(0.3, 0.45),
        rng.uniform(0.12, 0.22),
        0.07,
        rng.uniform(0.06, 0.12),
        rng.uniform(0.04, 0.1),
    ]
    return UserProfile(
        user_id=user_id,
        display_name=display_name or _person(rng, lang),
        tz=zone,
        country=country or home_country,
        lang=lang,
        since=since,
        seed=seed,
        plays_per_day=ppd,
        catalog=cat,
        key=key,
        devices=_make_devices(rng, _to_ms(since) or 0),
        weekend_factor=rng.uniform(0.75, 1.35),
        p_off=rng.uniform(0.06, 0.25),
        session_len=rng.uniform(7.0, 16.0),
        skip_p=rng.uniform(0.15, 0.4),
        shuffle_p=rng.choice((0.05, 0.3, 0.6, 0.85)),
        offline_p=rng.choice((0.0, 0.005, 0.02, 0.05)),
        incognito_p=rng.choice((0.0, 0.0, 0.0, 0.01, 0.03)),
        album_p=rng.uniform(0.03, 0.25),
        desk_p=rng.uniform(0.3, 0.8),
        podcast_p=rng.uniform(0.08, 0.4) if listens_podcasts else 0.0,
        audiobook_p=rng.uniform(0.03, 0.08) if reads else 0.0,
        source_cum=tuple(_cum(mix)),
        weekday_cum=_hour_cum(_WEEKDAY_HOURS, shift, worker, False),
        weekend_cum=_hour_cum(_WEEKEND_HOURS, shift, worker, True),
        core=_core_tracks(rng, cat, fav_artists),
        fav_artists=fav_artists,
        sequence=_rotation_sequence(rng, cat, lang, fav_artists, since),
        shows=tuple(
            rng.randrange(len(cat.shows))
            if rng.random() < 0.3
            else rng.choice(cat.lang_shows[lang] or range(len(cat.shows)))
            for _ in range(rng.randint(1, 6))
        ),
        books=tuple(rng.randrange(len(cat.books)) for _ in range(12)),
        trips=_trips(rng, since, home_country),
    )


def natural_plays_per_day(user_id: str, seed: int = 1) -> float:
    """How much this user listens unless told otherwise: lognormal around 38 plays a day."""
    rng = random.Random(_mix(seed, _key(user_id), 5))
    return min(160.0, max(6.0, rng.lognormvariate(math.log(38), 0.55)))


def _fav_artists(rng: random.Random, cat: Catalog, lang: str) -> tuple[int, ...]:
    favs: list[int] = []
    for _ in range(rng.randint(15, 60)):
        a = cat.lang_artist(rng.random, lang) if rng.random() < 0.55 else _pick(rng.random, cat.artist_cum)
        if a not in favs:
            favs.append(a)
    return tuple(favs)


def _core_tracks(rng: random.Random, cat: Catalog, favs: tuple[int, ...]) -> tuple[int, ...]:
    """All-time favourites: distinct tracks, mostly by favourite artists, some global hits."""
    zipf = _zipf_cum(len(favs), 1.0)
    core: dict[int, None] = {}
    for _ in range(rng.randint(60, 200)):
        if rng.random() < 0.75:
            track = cat.artist_track(rng.random, favs[_pick(rng.random, zipf)], flat=rng.random() < 0.6)
        else:
            track = cat.global_track(rng.random)
        core[track] = None
    return tuple(core)


def _rotation_sequence(
    rng: random.Random, cat: Catalog, lang: str, favs: tuple[int, ...], since: date
) -> tuple[int, ...]:
    """The stream of tracks entering the user's rotation; distinct within any window of WINDOW_SIZE."""
    months = max(1, (date(2031, 1, 1) - since).days // 30 + 1)
    zipf = _zipf_cum(len(favs), 0.9)
    seq: list[int] = []
    recent: dict[int, int] = {}  # track -> copies among the last WINDOW_SIZE entries
    for n in range(WINDOW_SIZE + WINDOW_STEP * months):
        for _ in range(8):
            x = rng.random()
            if x < 0.5:
                track = cat.artist_track(rng.random, favs[_pick(rng.random, zipf)], flat=True)
            elif x < 0.8:
                track = cat.artist_track(rng.random, cat.lang_artist(rng.random, lang))
            else:
                track = cat.global_track(rng.random)
            if track not in recent:
                break
        seq.append(track)
        recent[track] = recent.get(track, 0) + 1
        if n >= WINDOW_SIZE:
            old = seq[n - WINDOW_SIZE]
            recent[old] -= 1
            if not recent[old]:
                del recent[old]
    return tuple(seq)


def _trips(rng: random.Random, since: date, home: str) -> tuple[tuple[int, int, str], ...]:
    """A week abroad now and then: conn_country follows the trip, local hours stay home-based."""
    trips = []
    for year in range(since.year, 2031):
        if rng.random() < 0.5:
            start = date(year, 1, 1).toordinal() + rng.randrange(0, 350)
            dest = PLACES[_pick(rng.random, _PLACE_CUM)][1]
            if dest != home:
                trips.append((start, start + rng.randint(4, 12), dest))
    return tuple(trips)
