"""Realistic synthetic Spotify exports: extended streaming history (4 vintages) and account data.

Design choices that matter to callers:
- Plays of a user are drawn per local "listening day" (04:00 to 04:00 in the user's zone) from an RNG
  seeded by (seed, user, day). Any date range of a user is therefore reproducible without generating
  the rest, and two exports with overlapping ranges re-emit identical plays.
- Everything streams: plays are produced day by day and rows are buffered one output file (~12 MB) at a
  time, so memory does not grow with the number of plays.
- Files mimic what Spotify ships (key sets and order per vintage, one-line JSON arrays with ", " and
  ": " separators, non-ASCII kept raw, ~12 MB / 10,000-row splits, mild disorder) because the loader
  detects formats from content and must cope with exactly these quirks.
- Privacy fields carry RFC 5737 addresses and "fake-" usernames; the loader drops them anyway.
"""

# ruff: noqa: RUF001  (names are deliberately written in Cyrillic and other scripts)
from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import random
import resource
import time
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DAY_START_HOUR = 4  # a listening day runs 04:00-04:00 local: night owls' sessions stay on "their" day
MIN_SESSION_GAP_MS = 20 * 60_000  # gaps above typical 30-min sessionisation once the random part is added
MAX_PAUSE_MS = 8 * 60_000
MAX_SESSION_DELAY_MS = 45 * 60_000  # pushing colliding sessions further would pile them up after midnight
EPISODE_ROWS = 3.5  # mean rows of a podcast session (browsing rows included)

_MASK64 = (1 << 64) - 1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # same separators as the real files: ", " and ": "


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


# Dates where real exports change shape (read off the samples in shared/data/real).
PLATFORM_CUTOVER_MS = _ms(2022, 12, 15)  # "Android OS 12 API 31 (...)" becomes "android"
AUDIOBOOKS_FROM_MS = _ms(2023, 10, 1)  # Spotify audiobooks launch
VIDEO_OFFLINE_FROM_MS = _ms(2025, 1, 1)  # newest exports fill offline fields of video rows from 2025 on
VIDEO_NULL_BEFORE_MS = _ms(2021, 1, 1)  # early video rows come without any content fields
RECENT_MASK_MS = 14 * DAY_MS  # endsong exports leave the last ~2 weeks without content (not processed yet)


# --------------------------------------------------------------------------------------------------
# Small deterministic helpers
# --------------------------------------------------------------------------------------------------


def _mix(*parts: int) -> int:
    """SplitMix64-style mixing: stable across runs and Python versions, unlike hash()."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & _MASK64)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 29
    return h


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _spotify_id(*parts: object) -> str:
    """22 base62 characters, stable for the same parts (track / episode / chapter identity)."""
    n = int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=17).digest(), "big")
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_B62[r])
    return "".join(chars)


def _cum(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


@lru_cache(maxsize=64)
def _zipf_cum(n: int, s: float) -> tuple[float, ...]:
    return tuple(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n)))


def _pick(rnd: Callable[[], float], cum: Sequence[float]) -> int:
    i = bisect_right(cum, rnd() * cum[-1])
    return i if i < len(cum) else len(cum) - 1


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _to_ms(value: date | datetime | None) -> int | None:
    """Dates mean UTC midnight; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _ts(end_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ms // 1000))


def _end_time(end_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(end_ms // 1000))


# --------------------------------------------------------------------------------------------------
# Invented names in several scripts
# --------------------------------------------------------------------------------------------------

_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "midnight",
        "summer",
        "paper",
        "glass",
        "river",
        "golden",
        "neon",
        "silver",
        "electric",
        "velvet",
        "ocean",
        "fire",
        "shadow",
        "honey",
        "wild",
        "lonely",
        "broken",
        "sweet",
        "blue",
        "city",
        "heart",
        "ghost",
        "dream",
        "light",
        "rain",
        "stars",
        "moon",
        "road",
        "home",
        "echo",
        "fever",
        "gravity",
        "satellite",
        "wonder",
        "youth",
        "habit",
        "mirror",
        "garden",
        "thunder",
        "highway",
        "sugar",
        "storm",
        "winter",
        "cherry",
        "diamond",
        "lullaby",
        "harbor",
        "static",
        "violet",
        "coast",
        "avenue",
        "signal",
        "crystal",
        "marble",
        "tiger",
        "paradise",
        "island",
        "season",
        "memory",
        "daylight",
        "afterglow",
        "heartbeat",
        "monsoon",
        "canyon",
        "kingdom",
        "runaway",
        "skyline",
        "postcard",
        "bloom",
        "ember",
        "horizon",
        "orbit",
        "pulse",
        "ritual",
        "salt",
        "smoke",
        "tide",
        "tunnel",
        "vapor",
        "window",
        "yesterday",
        "forever",
        "tonight",
        "somebody",
        "nothing",
        "everything",
        "again",
        "alone",
        "together",
        "slow",
        "late",
        "lanterns",
        "satellites",
        "fireflies",
        "strangers",
        "wolves",
    ),
    "es": (
        "corazón",
        "noche",
        "luna",
        "fuego",
        "mar",
        "cielo",
        "amor",
        "camino",
        "sueño",
        "calle",
        "verano",
        "lágrimas",
        "bailar",
        "otra vez",
        "sin ti",
        "contigo",
        "mañana",
        "canción",
        "estrella",
        "besos",
        "despacio",
        "loco",
        "ciudad",
        "flores",
        "mi vida",
        "la playa",
        "señales",
        "corazones",
        "olvidé",
    ),
    "pt": (
        "saudade",
        "coração",
        "mar",
        "noite",
        "lua",
        "vento",
        "canção",
        "estrada",
        "lisboa",
        "amanhã",
        "céu",
        "fado",
        "sol",
        "menina",
        "beijo",
        "sonho",
        "tempo",
        "cidade",
        "não sei",
        "você",
        "avenida",
        "flor",
        "praia",
        "ação",
        "alma",
        "luz",
        "maré",
        "coração partido",
        "lá fora",
    ),
    "fr": (
        "lumière",
        "nuit",
        "cœur",
        "été",
        "soleil",
        "rêve",
        "toujours",
        "désir",
        "étoile",
        "mémoire",
        "chanson",
        "café",
        "amour",
        "ville",
        "fenêtre",
        "silence",
        "pluie",
        "encore",
        "déjà vu",
        "à jamais",
        "belle",
        "océan",
        "là-bas",
        "tendresse",
    ),
    "de": (
        "Über",
        "Nacht",
        "Herz",
        "Sommer",
        "Licht",
        "Straße",
        "Träume",
        "Brücke",
        "Himmel",
        "Wälder",
        "Schön",
        "Zeit",
        "Stadt",
        "Mädchen",
        "Regen",
        "Sterne",
        "Grün",
        "Heimweh",
        "Fernweh",
        "Märchen",
    ),
    "vi": (
        "nếu lúc đó",
        "em",
        "anh",
        "mùa hè",
        "yêu",
        "phố",
        "đêm",
        "người",
        "mưa",
        "trời",
        "ngày mai",
        "nhớ",
        "thương",
        "hạnh phúc",
        "cô đơn",
        "biển",
        "gió",
        "chiều",
        "giấc mơ",
        "ái",
        "đi về",
    ),
    "ja": (
        "夜",
        "夏",
        "雨",
        "東京",
        "恋",
        "君",
        "花火",
        "星",
        "桜",
        "さよなら",
        "ありがとう",
        "夢",
        "海",
        "空",
        "風",
        "光",
        "未来",
        "青春",
        "涙",
        "約束",
        "ひかり",
        "あした",
        "きみ",
        "ドライブ",
        "メロディー",
        "シティ",
        "夜明け",
        "帰り道",
        "秘密",
        "群青",
        "春",
        "月",
    ),
    "zh": (
        "月光",
        "夜空",
        "情人",
        "城市",
        "时间",
        "梦",
        "雨天",
        "海边",
        "永远",
        "青春",
        "我们",
        "爱你",
        "星星",
        "夏天",
        "故事",
        "晴天",
        "远方",
        "告白",
        "回忆",
        "风",
    ),
    "ko": (
        "사랑",
        "밤",
        "별",
        "바다",
        "여름",
        "꿈",
        "너",
        "우리",
        "하늘",
        "봄날",
        "기억",
        "눈물",
        "시간",
        "안녕",
        "노래",
        "빛",
        "비",
        "처음",
        "그대",
        "오늘",
    ),
    "hi": (
        "सपना",
        "दिल",
        "रात",
        "चाँद",
        "बारिश",
        "प्यार",
        "सफ़र",
        "तेरे",
        "मेरा",
        "शहर",
        "यादें",
        "आसमान",
        "ज़िंदगी",
        "धूप",
        "खुशी",
        "दोस्ती",
        "सुबह",
        "हवा",
        "रंग",
        "कहानी",
    ),
    "ru": (
        "Белые ночи",
        "ночь",
        "любовь",
        "город",
        "небо",
        "лето",
        "звезда",
        "море",
        "зима",
        "сердце",
        "дождь",
        "весна",
        "мечта",
        "дорога",
        "ветер",
        "огни",
        "тишина",
        "песня",
        "солнце",
        "Скрывай",
    ),
}

_EN_PHRASES = (
    "Hold On",
    "Take Me Home",
    "Run Away",
    "Come Back",
    "Stay",
    "Fall Apart",
    "Call Me",
    "Don't Wait",
    "I Remember",
    "We Were Young",
    "Say It",
    "Dance Alone",
    "Go Outside",
    "Let It Go",
    "Ride",
    "Drive",
    "Lose Control",
    "Breathe",
    "Closer",
    "Forget Me Not",
    "All I Want",
    "Never Enough",
    "Way Back Home",
    "Somewhere Else",
    "Out of Time",
    "Free Fall",
    "Golden Hour",
    "Better Days",
    "Truth Hurts",
)

_GIVEN: dict[str, tuple[str, ...]] = {
    "en": (
        "Mira",
        "Jonah",
        "Ellis",
        "Noa",
        "Theo",
        "Ivy",
        "Cass",
        "Rowan",
        "Juno",
        "Felix",
        "Maya",
        "Otis",
        "Lena",
        "Arlo",
        "Sadie",
        "Wren",
        "Dex",
        "Nico",
        "Hazel",
        "Remy",
        "Jude",
        "Kai",
        "Tess",
        "Alex",
    ),
    "es": ("Lucía", "Mateo", "Valentina", "Diego", "Camila", "Santi", "Paloma", "Álvaro", "Inés", "Joaquín"),
    "pt": ("João", "Inês", "Tomás", "Beatriz", "Rui", "Mariana", "Gonçalo", "Leonor", "Ana", "Caetano"),
    "fr": ("Élodie", "Théo", "Camille", "Anaïs", "Gaël", "Chloé", "Léon", "Maëlle", "Zoé", "Noé"),
    "de": ("Jörg", "Lea", "Jannik", "Mia", "Lukas", "Sönke", "Greta", "Malte"),
    "vi": ("Linh", "Minh", "Thảo", "Quân", "Hà", "Đức", "Vy", "Sơn"),
    "ja": ("ひかり", "蓮", "結衣", "陽翔", "さくら", "湊", "美咲", "悠真"),
    "zh": ("子涵", "浩然", "思远", "雨桐", "一诺", "梓萱", "宇轩", "欣怡"),
    "ko": ("민준", "서연", "지우", "하은", "도윤", "수아", "예준", "지민"),
    "hi": ("आरव", "अनन्या", "विवान", "दिया", "अर्जुन", "ईशा", "कबीर", "मीरा"),
    "ru": ("Алиса", "Максим", "Дарья", "Артём", "Полина", "Егор", "Вера", "Илья"),
}
_FAMILY: dict[str, tuple[str, ...]] = {
    "en": (
        "Solenne",
        "Hart",
        "Vale",
        "Rivers",
        "Calloway",
        "Marsh",
        "Lind",
        "Avery",
        "Fox",
        "Reyes",
        "Okafor",
        "Bellamy",
        "Crane",
        "Winslow",
        "Quill",
        "Monroe",
        "Ashby",
        "Delaney",
        "Hale",
        "O'Neil",
    ),
    "es": ("Moreno", "Vega", "Castillo", "Ruiz", "Ibáñez", "Núñez", "Ortega", "Peña", "Fuentes", "Solís"),
    "pt": ("Ribeiro", "Araújo", "Conceição", "Magalhães", "Simões", "Lourenço", "Gaspar", "Brandão"),
    "fr": ("Lefèvre", "Moreau", "Girard", "Béranger", "Rousseau", "Chevalier", "Dufresne"),
    "de": ("Müller", "Schäfer", "Köhler", "Brückner", "Weiß", "Hoffmann"),
    "vi": ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ"),
    "ja": ("佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "中村", "小林"),
    "zh": ("王", "李", "张", "刘", "陈", "杨", "黄", "周"),
    "ko": ("김", "이", "박", "최", "정", "강", "조", "윤"),
    "hi": ("शर्मा", "वर्मा", "कपूर", "मेहता", "राव", "सिंह", "जोशी", "अय्यर"),
    "ru": ("Смирнова", "Волков", "Соколова", "Лебедев", "Морозова", "Орлов", "Зайцева", "Белов"),
}
_ROMAN_HI = (
    "Aarav Mehta",
    "Ananya Rao",
    "Kabir Sethi",
    "Ishaan Kapoor",
    "Meera Iyer",
    "Rohan Jain",
    "Sukhvir Gill",
    "Diya Nair",
    "Arjun Malhotra",
    "Tara Bose",
)
_EMOJI = ("🌙", "🔥", "✨", "💔", "🌊", "🎧", "🌸", "⚡")
_LATIN = frozenset({"en", "es", "pt", "fr", "de", "vi"})
_FAMILY_FIRST = frozenset({"ja", "zh", "ko", "vi"})


def _capitalise(text: str, lang: str, rnd: Callable[[], float]) -> str:
    if lang not in _LATIN:
        return text
    x = rnd()
    if x < 0.08:
        return text.lower()  # "walk but in a garden" style
    if x < 0.11:
        return text.upper()
    if lang == "en":
        return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
    return text[:1].upper() + text[1:]


def _phrase(rng: random.Random, lang: str, hi: int = 3) -> str:
    if lang == "en" and rng.random() < 0.3:
        return rng.choice(_EN_PHRASES)
    words = _WORDS[lang]
    parts = [rng.choice(words) for _ in range(rng.randint(1, hi))]
    joiner = "" if lang in ("ja", "zh") and rng.random() < 0.6 else " "
    return _capitalise(joiner.join(parts), lang, rng.random)


def _person(rng: random.Random, lang: str) -> str:
    if lang == "hi" and rng.random() < 0.5:
        return rng.choice(_ROMAN_HI)  # many Indian artists are credited in Latin script
    given, family = rng.choice(_GIVEN[lang]), rng.choice(_FAMILY[lang])
    if lang in _FAMILY_FIRST:
        return family + ("" if lang in ("ja", "zh") and rng.random() < 0.7 else " ") + given
    return f"{given} {family}"


def _artist_name(rng: random.Random, lang: str) -> str:
    x = rng.random()
    if x < 0.5:
        name = _person(rng, lang)
    elif x < 0.7 and lang == "en":
        name = f"The {rng.choice(_WORDS['en']).title()} {rng.choice(_WORDS['en']).title()}s"
    elif x < 0.85:
        name = _phrase(rng, lang, 2)
    else:
        name = rng.choice(_WORDS[lang]).upper() if lang in _LATIN else _phrase(rng, lang, 1)
    y = rng.random()  # awkward characters a loader has to survive
    if y < 0.02:
        name = f"{name}, the {rng.choice(_WORDS['en'])}"
    elif y < 0.03:
        name = f'DJ "{rng.choice(_WORDS["en"]).title()}" {rng.choice(_FAMILY["en"])}'
    elif y < 0.04:
        name = f"{name} {rng.choice(_EMOJI)}"
    elif y < 0.05:
        name = f"{name} & {_person(rng, lang)}"
    elif y < 0.055:
        name = "{" + name + "}"
    return name


def _track_name(rng: random.Random, lang: str, feat: str) -> str:
    base = _phrase(rng, lang if rng.random() < 0.85 else "en")  # some songs are in English anyway
    x = rng.random()
    if x < 0.06:
        return f"{base} (feat. {feat})"
    if x < 0.07:
        return f"{base} (feat. {feat}, {_person(rng, 'en')} & {_person(rng, lang)})"
    if x < 0.10:
        return f"{base} - Remastered {rng.randint(1999, 2021)}"
    if x < 0.12:
        return f"{base} - Live"
    if x < 0.14:
        return f"{base}, Pt. {rng.randint(2, 3)}"
    if x < 0.155:
        return f'{base} (From "{_phrase(rng, lang, 2)}")'
    if x < 0.165:
        return f'Say "{base}"'
    if x < 0.175:
        return "{" + base + "}"
    if x < 0.19:
        return f"{base} {rng.choice(_EMOJI)}"
    if x < 0.20:
        return f"{base} - Sped Up"
    if x < 0.205:
        return f"{base} \\ {_phrase(rng, lang, 1)}"
    if x < 0.215:
        return f"{base}/{_phrase(rng, lang, 1)}"
    return base


def _album_name(rng: random.Random, lang: str) -> str:
    base = _phrase(rng, lang)
    x = rng.random()
    if x < 0.05:
        return f"{base} (Deluxe Edition)"
    if x < 0.08:
        return f"{base} (Original Motion Picture Soundtrack)"
    if x < 0.10:
        return f"{base}, Vol. {rng.randint(2, 4)}"
    return base


# --------------------------------------------------------------------------------------------------
# Catalog: artists -> albums -> tracks with skewed popularity, podcast shows, audiobooks
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Users: home zone, devices, taste, rhythm
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Plays
# --------------------------------------------------------------------------------------------------

SKIP_REASONS = frozenset({"fwdbtn", "backbtn", "endplay"})  # real exports set skipped=true for exactly these


class Play(NamedTuple):
    """One listening event, independent of how a given export vintage will render it."""

    user_id: str
    session: int  # unique per user: listening-day ordinal * 100 + session number
    start_ms: int  # playback start, UTC epoch ms
    end_ms: int  # playback end (the exports' ts); end - start - ms_played = time paused
    ms_played: int
    content: Track | Episode | Chapter
    device: Device
    country: str
    reason_start: str
    reason_end: str
    shuffle: bool
    offline: bool
    offline_ms: int  # what offline_timestamp reports, in ms
    incognito: bool
    video: bool

    @property
    def kind(self) -> str:
        return self.content.kind

    @property
    def ts(self) -> str:
        return _ts(self.end_ms)

    @property
    def skipped(self) -> bool:
        return self.reason_end in SKIP_REASONS

    @property
    def platform(self) -> str:
        return _platform(self.device, self.end_ms, False)


def _platform(dev: Device, end_ms: int, force_modern: bool) -> str:
    if force_modern or end_ms >= PLATFORM_CUTOVER_MS:
        return dev.modern
    return dev.legacy_new if end_ms >= dev.upgrade_ms else dev.legacy_old


_NEXT_START = {
    "trackdone": "trackdone",
    "fwdbtn": "fwdbtn",
    "backbtn": "backbtn",
    "trackerror": "trackerror",
    "remote": "remote",
    "unknown": "unknown",
}
_FIRST_STARTS = ("appload", "appload", "clickrow", "clickrow", "clickrow", "playbtn", "playbtn", "trackdone")
_SESSION_ENDS = (
    "endplay",
    "endplay",
    "endplay",
    "logout",
    "logout",
    "trackdone",
    "trackdone",
    "unexpected-exit-while-paused",
    "unexpected-exit",
)
_EPISODE_ENDS = ("endplay", "endplay", "logout", "logout", "unexpected-exit-while-paused")


class _DayMaker:
    """Generates one listening day of one user; all randomness comes from the (user, day) RNG."""

    def __init__(self, user: UserProfile) -> None:
        self.u = user
        self.cat = user.catalog
        self.tracks = user.catalog.tracks
        self.zone = user.zone
        self.since_ord = user.since.toordinal()
        sigma = 0.45
        weekly = (5 + 2 * user.weekend_factor) / 7
        # E[plays/day] == plays_per_day; 0.93 corrects for sessions cut at the end of the day
        self.day_mean = user.plays_per_day / ((1 - user.p_off) * math.exp(sigma**2 / 2) * weekly * 0.93)
        self.sigma = sigma
        u_rows = user.podcast_p * EPISODE_ROWS + (1 - user.podcast_p) * user.session_len
        self.rows_per_session = u_rows
        # heavy listeners lose more planned sessions to collisions (see day()); measured, roughly linear
        self.day_mean *= 1 + 0.045 * user.plays_per_day / u_rows
        self.phone = next(d for d in user.devices if d.kind == "phone")
        self.desktop = next((d for d in user.devices if d.kind == "desktop"), None)
        self.cast = next((d for d in user.devices if d.kind == "cast"), None)
        self.tablet = next((d for d in user.devices if d.kind == "tablet"), None)

    def window_ms(self, day_ord: int) -> int:
        d = date.fromordinal(day_ord)
        local = datetime(d.year, d.month, d.day, DAY_START_HOUR, tzinfo=self.zone)
        return int(local.timestamp()) * 1000

    def day(self, day_ord: int) -> list[Play]:
        u = self.u
        if day_ord < self.since_ord:
            return []
        rng = random.Random(_mix(u.key, day_ord))
        rnd = rng.random
        if rnd() < u.p_off:
            return []
        weekend = date.fromordinal(day_ord).weekday() >= 5
        mean = self.day_mean * (u.weekend_factor if weekend else 1.0) * rng.lognormvariate(0.0, self.sigma)
        n_sessions = _poisson(rng, mean / self.rows_per_session)
        if not n_sessions:
            return []
        w0, w1 = self.window_ms(day_ord), self.window_ms(day_ord + 1)
        hours = u.weekend_cum if weekend else u.weekday_cum
        starts = sorted(_pick(rnd, hours) * HOUR_MS + int(rnd() * HOUR_MS) for _ in range(n_sessions))
        country = self._country(day_ord)
        month = (day_ord - self.since_ord) // 30
        plays: list[Play] = []
        t = w0
        for k, offset in enumerate(starts):
            start = w0 + offset
            if plays and start < t + MIN_SESSION_GAP_MS:
                pushed = t + MIN_SESSION_GAP_MS + int(rng.expovariate(1 / (25 * 60_000)))
                if pushed - start > MAX_SESSION_DELAY_MS:
                    continue  # still listening when this session was due: it never happens
                start = pushed
            if start >= w1:
                break
            hour = (DAY_START_HOUR + (start - w0) // HOUR_MS) % 24
            sid = day_ord * 100 + k
            t = self._session(rng, plays, start, w1, sid, country, month, weekend, hour, day_ord)
        return plays

    def _country(self, day_ord: int) -> str:
        for first, last, dest in self.u.trips:
            if first <= day_ord <= last:
                return dest
        return self.u.country

    def _device(self, rnd: Callable[[], float], weekend: bool, hour: int) -> Device:
        if self.desktop and not weekend and 9 <= hour < 18 and rnd() < self.u.desk_p:
            return self.desktop
        if self.cast and hour >= 18 and rnd() < 0.35:
            return self.cast
        if self.tablet and rnd() < 0.15:
            return self.tablet
        return self.phone

    def _session(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        month: int,
        weekend: bool,
        hour: int,
        day_ord: int,
    ) -> int:
        u, rnd = self.u, rng.random
        dev = self._device(rnd, weekend, hour)
        x = rnd()
        if x < u.podcast_p and dev.kind != "cast":
            return self._episodes(rng, out, start, w1, sid, country, dev, day_ord)
        if x < u.podcast_p + u.audiobook_p and start >= AUDIOBOOKS_FROM_MS and dev.kind == "phone":
            return self._chapters(rng, out, start, w1, sid, country, dev, month, day_ord)
        return self._music(rng, out, start, w1, sid, country, dev, month)

    def _music(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        month: int,
    ) -> int:
        u, rnd, tracks = self.u, rng.random, self.tracks
        n = 1 + int(rng.expovariate(1 / (u.session_len - 1)))
        shuffle = rnd() < u.shuffle_p
        offline = dev.kind == "phone" and rnd() < u.offline_p
        incognito = rnd() < u.incognito_p
        album_next = album_end = -1
        if rnd() < u.album_p:  # an album played in order, from the top
            album = self.cat.albums[_album_of(self.cat, self._pick_track(rnd, month)[0])]
            album_next, album_end, shuffle = album.first_track, album.first_track + album.n_tracks, False
        t, prev_end, skipping, user_id = start, "", False, u.user_id
        for i in range(n):
            if album_next >= 0:
                idx, skip_f = album_next, 0.5
                album_next = album_next + 1 if album_next + 1 < album_end else -1
            else:
                idx, skip_f = self._pick_track(rnd, month)
            track = tracks[idx]
            dur = track.duration_ms
            video = dev.kind == "phone" and rnd() < 0.004
            if i == 0:
                rs = "remote" if dev.kind == "cast" and rnd() < 0.3 else _FIRST_STARTS[int(rnd() * 8)]
            else:
                rs = _NEXT_START.get(prev_end) or ("clickrow" if rnd() < 0.7 else "playbtn")
            if video:  # music videos: short previews reported in the Video files
                rs, re, ms, skipping = "unknown", "endplay", int(rnd() * 30_000), False
            elif i == n - 1:
                re = _SESSION_ENDS[int(rnd() * len(_SESSION_ENDS))]
                ms = dur if re == "trackdone" else int(dur * rng.uniform(0.05, 0.95))
            else:
                re, ms, skipping = self._outcome(rng, dur, skip_f, skipping, dev)
            if out and ms == out[-1].ms_played and out[-1].content is track:
                ms += 1  # same track, same ms, same second would collapse into one event downstream
            begin = t + int(rnd() * 900)  # buffering between tracks
            pause = int(rng.expovariate(1 / 60_000)) % MAX_PAUSE_MS if rnd() < 0.04 else 0
            end = begin + ms + pause
            if end >= w1:
                break
            out.append(
                Play(
                    user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    track,
                    dev,
                    country,
                    rs,
                    re,
                    shuffle,
                    offline,
                    _offline_ref(rnd, begin, ms),
                    incognito,
                    video,
                )
            )
            t, prev_end = end, re
        return t

    def _pick_track(self, rnd: Callable[[], float], month: int) -> tuple[int, float]:
        u = self.u
        source = _pick(rnd, u.source_cum)
        if source == 0:
            return u.core[_pick(rnd, _zipf_cum(len(u.core), 0.6))], _SKIP_FACTOR[0]
        if source == 1:
            base = min(month, (len(u.sequence) - WINDOW_SIZE) // WINDOW_STEP) * WINDOW_STEP
            return u.sequence[base + _pick(rnd, _WINDOW_CUM)], _SKIP_FACTOR[1]
        if source == 2:
            artist = u.fav_artists[_pick(rnd, _zipf_cum(len(u.fav_artists), 1.0))]
            return self.cat.artist_track(rnd, artist, rnd() < 0.5), _SKIP_FACTOR[2]
        if source == 3:
            return self.cat.artist_track(rnd, self.cat.lang_artist(rnd, u.lang)), _SKIP_FACTOR[3]
        if source == 4:
            return self.cat.global_track(rnd), _SKIP_FACTOR[4]
        return int(rnd() * len(self.tracks)), _SKIP_FACTOR[5]

    def _outcome(
        self, rng: random.Random, dur: int, skip_f: float, skipping: bool, dev: Device
    ) -> tuple[str, int, bool]:
        """reason_end and ms_played of a play inside a session; skips come in bursts."""
        rnd = rng.random
        if rnd() < (0.62 if skipping else self.u.skip_p * skip_f):
            x = rnd()
            if skipping:  # thumbing through: several plays can end within the same second
                ms = int(rnd() * 2500) + 120 if x < 0.6 else 2500 + int(rnd() * 27_500)
            else:
                ms = (
                    200 + int(rnd() * 2800)
                    if x < 0.3
                    else 3000 + int(rnd() * 27_000)
                    if x < 0.8
                    else int(dur * rng.uniform(0.15, 0.8))
                )
            return "fwdbtn", ms, True
        x = rnd()
        if x < 0.02:
            return "backbtn", int(rnd() * dur), False
        if x < 0.09:
            return "endplay", int(dur * rng.uniform(0.05, 0.95)), False
        if x < 0.093:
            return "trackerror", 0, False
        if x < 0.096:
            return "unknown", int(rnd() * dur), False
        if x < 0.1 and dev.kind == "cast":
            return "remote", int(rnd() * dur), False
        return "trackdone", dur if rnd() < 0.7 else dur - int(rnd() * 1500), False

    def _episodes(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        day_ord: int,
    ) -> int:
        u, rnd, cat = self.u, rng.random, self.cat
        running = [sh for sh in u.shows if cat.shows[sh].start_ord <= day_ord]
        if not running:
            return self._music(rng, out, start, w1, sid, country, dev, (day_ord - self.since_ord) // 30)
        show = running[int(rnd() * len(running))]
        s = cat.shows[show]
        latest = (day_ord - s.start_ord) // s.cadence_days
        number = max(0, latest - int(rng.expovariate(0.8)))
        offline = dev.kind == "phone" and rnd() < u.offline_p * 2
        t, prev_end = start, ""
        n = 1 + int(rng.expovariate(1 / (EPISODE_ROWS - 1)))
        for i in range(n):
            ep = cat.episode(show, number)
            if i == 0:
                rs = ("clickrow", "appload", "playbtn", "clickrow", "trackdone")[int(rnd() * 5)]
            else:
                rs = _NEXT_START.get(prev_end) or "clickrow"
            if i < n - 1 and rnd() < 0.45:  # browsing: a few seconds of an older episode
                re, ms = ("fwdbtn" if rnd() < 0.6 else "endplay"), int(rnd() * 60_000)
            elif rnd() < 0.3:
                re, ms = "trackdone", ep.duration_ms
            else:
                re, ms = _EPISODE_ENDS[int(rnd() * 5)], 60_000 + int(rnd() * (ep.duration_ms - 60_000))
            video = ep.video and rnd() < 0.4  # video podcasts are mostly listened to as audio
            if video and rnd() < 0.7:
                rs = "unknown"
            begin = t + int(rnd() * 900)
            pause = int(rng.expovariate(1 / 120_000)) % MAX_PAUSE_MS if rnd() < 0.15 else 0
            end = begin + ms + pause
            if end >= w1:
                break
            out.append(
                Play(
                    u.user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    ep,
                    dev,
                    country,
                    rs,
                    re,
                    False,
                    offline,
                    _offline_ref(rnd, begin, ms),
                    False,
                    video,
                )
            )
            t, prev_end = end, re
            if re == "trackdone" and number < latest:
                number += 1  # binge the next one
            elif re == "trackdone":  # caught up with this show: on to another one
                show = running[int(rnd() * len(running))]
                s = cat.shows[show]
                latest = number = max(0, (day_ord - s.start_ord) // s.cadence_days)
            else:
                number = max(0, number - 1)  # browsing older episodes
        return t

    def _chapters(
        self,
        rng: random.Random,
        out: list[Play],
        start: int,
        w1: int,
        sid: int,
        country: str,
        dev: Device,
        month: int,
        day_ord: int,
    ) -> int:
        u, rnd = self.u, rng.random
        book = u.books[(month // 2) % len(u.books)]  # a new book every other month
        n_ch = self.cat.books[book].n_chapters
        number = ((day_ord - self.since_ord) // 3) % n_ch
        t, prev_end = start, ""
        for i in range(1 + int(rnd() * 2.5)):
            ch = self.cat.chapter(book, (number + i) % n_ch)
            rs = (
                ("clickrow", "playbtn", "appload")[int(rnd() * 3)]
                if i == 0
                else (_NEXT_START.get(prev_end) or "clickrow")
            )
            if rnd() < 0.45:
                re, ms = "trackdone", ch.duration_ms
            else:
                re, ms = _EPISODE_ENDS[int(rnd() * 5)], int(rnd() * ch.duration_ms)
            begin = t + int(rnd() * 900)
            end = begin + ms
            if end >= w1:
                break
            out.append(
                Play(
                    u.user_id,
                    sid,
                    begin,
                    end,
                    ms,
                    ch,
                    dev,
                    country,
                    rs,
                    re,
                    False,
                    False,
                    _offline_ref(rnd, begin, ms),
                    False,
                    False,
                )
            )
            t, prev_end = end, re
            if re != "trackdone":
                break
        return t


def _offline_ref(rnd: Callable[[], float], begin: int, ms: int) -> int:
    """offline_timestamp as real files report it: near playback start, sometimes hours stale or a bit late."""
    x = rnd()
    if x < 0.03:  # client state from when the app was opened or went offline
        return begin - int((3_600_000 + rnd() * 11 * HOUR_MS) * (6 if x < 0.003 else 1))
    if x < 0.05:
        return begin + int(rnd() * min(ms, 120_000))
    return begin - int(rnd() * 1500)


def _album_of(cat: Catalog, track: int) -> int:
    lo, hi = 0, len(cat.albums) - 1
    while lo < hi:  # albums are sorted by first_track
        mid = (lo + hi + 1) // 2
        if cat.albums[mid].first_track <= track:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _local_day(user: UserProfile, instant_ms: int) -> int:
    local = datetime.fromtimestamp(instant_ms / 1000, tz=user.zone) - timedelta(hours=DAY_START_HOUR)
    return local.date().toordinal()


def iter_plays(
    user: UserProfile,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    *,
    max_plays: int | None = None,
) -> Iterator[Play]:
    """Plays of one user ending in [start, end), oldest first, streamed day by day.

    Without `end` it runs until `max_plays`. A given play is the same whatever range is asked for.
    """
    if end is None and max_plays is None:
        raise ValueError("iter_plays needs an end date or max_plays, otherwise it never stops")
    start_ms = max(_to_ms(start) or 0, _to_ms(user.since) or 0)
    end_ms = _to_ms(end)
    maker = _DayMaker(user)
    day_ord = _local_day(user, start_ms) - 1
    emitted = 0
    while end_ms is None or maker.window_ms(day_ord) < end_ms:
        for play in maker.day(day_ord):
            if play.end_ms < start_ms:
                continue
            if end_ms is not None and play.end_ms >= end_ms:
                return
            yield play
            emitted += 1
            if max_plays is not None and emitted >= max_plays:
                return
        day_ord += 1


def generate_user_plays(user: UserProfile, start: date | datetime, end: date | datetime) -> list[Play]:
    """All plays of one user in [start, end) as records (for tests and small tools)."""
    return list(iter_plays(user, start, end))


# --------------------------------------------------------------------------------------------------
# Rendering: extended-history vintages and account data
# --------------------------------------------------------------------------------------------------

_CONTENT_FIELDS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
)
_AUDIOBOOK_FIELDS = ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title")
_TAIL_FIELDS = (
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_timestamp",
    "incognito_mode",
)


@dataclass(frozen=True)
class Vintage:
    """One era of the extended streaming history: which keys, in which order, with which quirks."""

    name: str
    description: str
    decrypted: bool  # username / ip_addr_decrypted / user_agent_decrypted instead of ip_addr
    audiobooks: bool
    offline_ts_divisor: int  # 1: offline_timestamp in ms; 1000: in seconds
    naming: str  # endsong | range | yearly
    disorder: str  # blocks: heavily shuffled files; displace: a few rows out of place
    zip_folder: str

    @property
    def fields(self) -> tuple[str, ...]:
        head = (
            (
                "ts",
                "username",
                "platform",
                "ms_played",
                "conn_country",
                "ip_addr_decrypted",
                "user_agent_decrypted",
            )
            if self.decrypted
            else ("ts", "platform", "ms_played", "conn_country", "ip_addr")
        )
        middle = _CONTENT_FIELDS + (_AUDIOBOOK_FIELDS if self.audiobooks else ())
        return head + middle + _TAIL_FIELDS


VINTAGES: dict[str, Vintage] = {
    "endsong": Vintage(
        "endsong", "endsong_N.json, 2021-2022 exports", True, False, 1, "endsong", "blocks", "MyData"
    ),
    "audio2024": Vintage(
        "audio2024",
        "Streaming_History_Audio_*, May-2024 exports",
        True,
        False,
        1000,
        "range",
        "displace",
        "Spotify Extended Streaming History",
    ),
    "late2024": Vintage(
        "late2024",
        "Streaming_History_Audio_*, late-2024 exports (ip_addr only)",
        False,
        False,
        1000,
        "range",
        "displace",
        "Spotify Extended Streaming History",
    ),
    "current": Vintage(
        "current",
        "Streaming_History_Audio_*, 2025/2026 exports (ip_addr + audiobook_*)",
        False,
        True,
        1000,
        "yearly",
        "displace",
        "Spotify Extended Streaming History",
    ),
}
ACCOUNT_FORMATS = ("account", "account-legacy")
ALL_FORMATS = (*VINTAGES, *ACCOUNT_FORMATS)


def _ip(dev: Device, end_ms: int) -> str:
    return f"{dev.ip_prefix}.{1 + (dev.ip_host + (end_ms // (30 * DAY_MS)) * 37) % 254}"  # monthly re-lease


def play_to_extended(
    play: Play, vintage: str | Vintage, export_end_ms: int | None = None, username: str | None = None
) -> dict[str, Any] | None:
    """The row an extended-history export of `vintage` holds for `play` (None: the vintage cannot show it).

    `export_end_ms` enables the endsong quirk of content-less rows for the last weeks before the export.
    """
    v = VINTAGES[vintage] if isinstance(vintage, str) else vintage
    c = play.content
    if c.kind == "audiobook" and not v.audiobooks:
        return None
    end_ms, dev = play.end_ms, play.device
    masked = v.naming == "endsong" and export_end_ms is not None and export_end_ms - end_ms < RECENT_MASK_MS
    blank = masked or (play.video and end_ms < VIDEO_NULL_BEFORE_MS)
    row: dict[str, Any] = {"ts": _ts(end_ms)}
    if v.decrypted:
        row["username"] = username or f"fake-{play.user_id}"
    row["platform"] = _platform(dev, end_ms, masked)
    row["ms_played"] = play.ms_played
    row["conn_country"] = play.country
    if v.decrypted:
        row["ip_addr_decrypted"] = None if masked else _ip(dev, end_ms)
        row["user_agent_decrypted"] = dev.user_agent
    else:
        row["ip_addr"] = _ip(dev, end_ms)
    _content(row, None if blank else c, v.audiobooks)
    row["reason_start"] = play.reason_start
    row["reason_end"] = play.reason_end
    row["shuffle"] = play.shuffle
    old_skipped = v.naming == "endsong" and not masked  # endsong-era files mostly leave skipped null
    row["skipped"] = None if old_skipped or (blank and not masked) else play.skipped
    row["offline"], row["offline_timestamp"] = _offline(play, v, blank and not masked)
    row["incognito_mode"] = play.incognito
    return row


def _content(row: dict[str, Any], c: Track | Episode | Chapter | None, audiobooks: bool) -> None:
    track = c if isinstance(c, Track) else None
    episode = c if isinstance(c, Episode) else None
    chapter = c if isinstance(c, Chapter) else None
    row["master_metadata_track_name"] = track.name if track else None
    row["master_metadata_album_artist_name"] = track.artist if track else None
    row["master_metadata_album_album_name"] = track.album if track else None
    row["spotify_track_uri"] = track.uri if track else None
    row["episode_name"] = episode.name if episode else None
    row["episode_show_name"] = episode.show if episode else None
    row["spotify_episode_uri"] = episode.uri if episode else None
    if audiobooks:
        row["audiobook_title"] = chapter.book if chapter else None
        row["audiobook_uri"] = chapter.book_uri if chapter else None
        row["audiobook_chapter_uri"] = chapter.uri if chapter else None
        row["audiobook_chapter_title"] = chapter.title if chapter else None


def _offline(play: Play, v: Vintage, blank_video: bool) -> tuple[bool | None, int | None]:
    if play.video:  # the Video files report offline fields differently in each era
        if blank_video or v.naming == "endsong" or v.name == "late2024":
            return None, None
        if v.name == "audio2024":
            return None, 0
        if play.end_ms < VIDEO_OFFLINE_FROM_MS:
            return None, None
        return play.offline, play.offline_ms // 1000
    if play.device.kind == "cast" and v.offline_ts_divisor == 1000:
        return play.offline, 0
    if v.audiobooks and not play.device.reports_offline_ts:
        return play.offline, None
    return play.offline, play.offline_ms // v.offline_ts_divisor


def play_to_account(play: Play, legacy: bool = False) -> tuple[str, dict[str, Any]] | None:
    """(stream, row) of an account-data export: stream is music/podcast/audiobook, or "all" when legacy."""
    c, end_time = play.content, _end_time(play.end_ms)
    if isinstance(c, Track):
        return ("all" if legacy else "music"), {
            "endTime": end_time,
            "artistName": c.artist,
            "trackName": c.name,
            "msPlayed": play.ms_played,
        }
    if isinstance(c, Episode):
        if legacy:  # the old files put podcasts into the music columns
            return "all", {
                "endTime": end_time,
                "artistName": c.show,
                "trackName": c.name,
                "msPlayed": play.ms_played,
            }
        return "podcast", {
            "endTime": end_time,
            "podcastName": c.show,
            "episodeName": c.name,
            "msPlayed": play.ms_played,
        }
    if legacy:
        return None
    return "audiobook", {
        "endTime": end_time,
        "audiobookName": c.book,
        "chapterName": c.title,
        "authorName": c.author,
        "msPlayed": play.ms_played,
    }


# --------------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------------

DEFAULT_MAX_BYTES = 12_000_000  # real history files are split at about 12 MB
ACCOUNT_MAX_RECORDS = 10_000


class _Sink:
    """Where finished files go: a flat directory, or a ZIP laid out like Spotify's."""

    def __init__(self, out_dir: Path, as_zip: bool, folder: str, stamp_ms: int) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.folder = out_dir, folder
        self.paths: list[Path] = []
        stamp = time.gmtime(stamp_ms // 1000)
        self.date_time = (max(stamp.tm_year, 1980), stamp.tm_mon, stamp.tm_mday, 12, 0, 0)
        self.zip = None
        if as_zip:
            path = out_dir / "my_spotify_data.zip"
            self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
            self.paths.append(path)

    def put(self, name: str, data: bytes) -> None:
        if self.zip is not None:
            info = zipfile.ZipInfo(f"{self.folder}/{name}", self.date_time)  # fixed time: reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            self.zip.writestr(info, data, compresslevel=1)
        else:
            path = self.out_dir / name
            path.write_bytes(data)
            self.paths.append(path)

    def close(self) -> list[Path]:
        if self.zip is not None:
            self.zip.close()
        return self.paths


Namer = Callable[[int, int, int, bool], str]  # (index, first year, last year, only file of its group)


class _FileStream:
    """Buffers the rows of one file series and cuts files at a byte or row cap, naming them like Spotify.

    Groups are calendar years when split_years is set (newest vintage), else the whole series. With
    single_naming the first file of a group is held back until we know whether it stays the only one
    (then it gets no _N suffix), so at most two files are ever in memory.
    """

    def __init__(
        self,
        sink: _Sink,
        namer: Namer,
        *,
        max_bytes: int | None,
        max_records: int | None,
        split_years: bool,
        single_naming: bool,
        index_per_group: bool,
        reorder: Callable[[list[bytes], int], None] | None,
    ) -> None:
        self.sink, self.namer = sink, namer
        self.max_bytes, self.max_records = max_bytes, max_records
        self.split_years, self.single_naming = split_years, single_naming
        self.index_per_group = index_per_group
        self.reorder = reorder
        self.rows: list[bytes] = []
        self.size = 0
        self.years = (9999, 0)
        self.group_year: int | None = None
        self.group_files = 0
        self.files = 0
        self.pending: tuple[bytes, int, int, int] | None = None

    def add(self, row: bytes, year: int) -> None:
        if self.split_years and self.group_year is not None and year != self.group_year:
            self._end_group()
        self.group_year = year
        if self.rows and (
            (self.max_bytes and self.size + len(row) + 2 > self.max_bytes)
            or (self.max_records and len(self.rows) >= self.max_records)
        ):
            self._cut()
        self.rows.append(row)
        self.size += len(row) + 2
        self.years = (min(self.years[0], year), max(self.years[1], year))

    def _cut(self) -> None:
        if not self.rows:
            return
        if self.reorder:
            self.reorder(self.rows, self.files)
        index = self.group_files if self.index_per_group else self.files
        done = (b"[" + b", ".join(self.rows) + b"]", *self.years, index)
        self.rows, self.size, self.years = [], 0, (9999, 0)
        self.files += 1
        self.group_files += 1
        if self.single_naming and self.group_files == 1:
            self.pending = done
            return
        if self.pending:
            self._emit(self.pending, False)
            self.pending = None
        self._emit(done, False)

    def _emit(self, done: tuple[bytes, int, int, int], single: bool) -> None:
        data, y0, y1, index = done
        self.sink.put(self.namer(index, y0, y1, single), data)

    def _end_group(self) -> None:
        self._cut()
        if self.pending:
            self._emit(self.pending, self.group_files == 1)
            self.pending = None
        self.group_files = 0

    def close(self) -> None:
        self._end_group()


def _years(y0: int, y1: int) -> str:
    return str(y0) if y0 == y1 else f"{y0}-{y1}"


def _extended_namer(v: Vintage, video: bool) -> Namer:
    kind = "Video" if video else "Audio"

    def name(index: int, y0: int, y1: int, single: bool) -> str:
        if v.naming == "endsong":
            stem = "endvideo" if video else "endsong"
            return f"{stem}.json" if single else f"{stem}_{index}.json"
        suffix = "" if single else f"_{index}"
        return f"Streaming_History_{kind}_{_years(y0, y1)}{suffix}.json"

    return name


def _reorderer(kind: str, seed: int) -> Callable[[list[bytes], int], None]:
    """Real files are not strictly sorted: endsong files are shuffled in blocks, newer ones nearly sorted."""
    rate = random.Random(seed).choice((0.0, 0.0, 0.002, 0.006))

    def reorder(rows: list[bytes], file_no: int) -> None:
        rng = random.Random(_mix(seed, file_no))
        if kind == "blocks":
            blocks, i = [], 0
            while i < len(rows):
                n = rng.randint(1, 40)
                blocks.append(rows[i : i + n])
                i += n
            rng.shuffle(blocks)
            rows[:] = [r for b in blocks for r in b]
            return
        for _ in range(int(len(rows) * rate)):
            j = rng.randrange(1, len(rows))
            rows.insert(rng.randrange(0, j), rows.pop(j))  # a late-reported play shows up early

    return reorder


def _open_streams(
    fmt: str, sink: _Sink, user: UserProfile, max_bytes: int | None, max_records: int | None
) -> dict[str, _FileStream]:
    if fmt in VINTAGES:
        v = VINTAGES[fmt]
        yearly = v.naming == "yearly"
        streams = {}
        for video in (False, True):
            reorder = _reorderer(v.disorder, _mix(user.key, 11, video))
            streams["video" if video else "audio"] = _FileStream(
                sink,
                _extended_namer(v, video),
                max_bytes=max_bytes,
                max_records=max_records,
                split_years=yearly,
                single_naming=yearly or video,
                index_per_group=yearly,
                reorder=reorder,
            )
        return streams
    cap = max_records or ACCOUNT_MAX_RECORDS
    if fmt == "account-legacy":
        namer: Namer = lambda i, _a, _b, _s: f"StreamingHistory{i}.json"  # noqa: E731
        return {
            "all": _FileStream(
                sink,
                namer,
                max_bytes=None,
                max_records=cap,
                split_years=False,
                single_naming=False,
                index_per_group=False,
                reorder=None,
            )
        }
    streams = {}
    for kind in ("music", "podcast", "audiobook"):
        streams[kind] = _FileStream(
            sink,
            _account_namer(kind),
            max_bytes=None,
            max_records=cap,
            split_years=False,
            single_naming=False,
            index_per_group=False,
            reorder=None,
        )
    return streams


def _account_namer(kind: str) -> Namer:
    return lambda i, _a, _b, _s: f"StreamingHistory_{kind}_{i}.json"


def write_export(
    user: UserProfile,
    out_dir: str | Path,
    fmt: str = "current",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    *,
    plays: Iterable[Play] | None = None,
    max_plays: int | None = None,
    as_zip: bool = False,
    extras: bool | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_records: int | None = None,
    export_end: date | datetime | None = None,
) -> list[Path]:
    """Write one export of `user` in `fmt` (a vintage name or account / account-legacy); returns the files.

    Plays come from `plays` or from iter_plays(user, start, end, max_plays). Directory mode writes history
    files flat into out_dir; as_zip writes out_dir/my_spotify_data.zip with Spotify's folders, a ReadMe
    PDF and (account data) Userdata.json / Playlist1.json / YourLibrary.json beside the history.
    """
    if fmt not in ALL_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(ALL_FORMATS)}")
    out = Path(out_dir)
    stamp_ms = _to_ms(export_end) or _to_ms(end) or _to_ms(date(2026, 1, 1)) or 0
    account = fmt in ACCOUNT_FORMATS
    folder = (
        ("MyData" if fmt == "account-legacy" else "Spotify Account Data")
        if account
        else VINTAGES[fmt].zip_folder
    )
    sink = _Sink(out, as_zip, folder, stamp_ms)
    streams = _open_streams(fmt, sink, user, max_bytes, max_records)
    source = plays if plays is not None else iter_plays(user, start, end, max_plays=max_plays)
    mask_ms = _to_ms(export_end) or _to_ms(end)
    username = user.username
    for play in source:
        if account:
            routed = play_to_account(play, fmt == "account-legacy")
            if routed is None:
                continue
            stream, row = routed
        else:
            row = play_to_extended(play, fmt, mask_ms, username)
            if row is None:
                continue
            stream = "video" if play.video else "audio"
        streams[stream].add(_ENCODE(row).encode(), time.gmtime(play.end_ms // 1000).tm_year)
    for stream in streams.values():
        stream.close()
    if as_zip or extras:
        _write_zip_extras(sink, user, fmt, account_json=extras is not False)
    return sink.close()


def write_overlapping_exports(
    user: UserProfile,
    out_dir: str | Path,
    fmt: str,
    first: tuple[date | datetime, date | datetime],
    second: tuple[date | datetime, date | datetime],
    *,
    as_zip: bool = False,
) -> tuple[list[Path], list[Path]]:
    """Two exports of the same user (e.g. requested a year apart) whose overlap holds identical rows."""
    out = Path(out_dir)
    runs = []
    for rng_start, rng_end in (first, second):
        label = f"export-{(_to_date(rng_end)).isoformat()}"
        runs.append(write_export(user, out / label, fmt, rng_start, rng_end, as_zip=as_zip))
    return runs[0], runs[1]


def _to_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# --------------------------------------------------------------------------------------------------
# Non-history files of a ZIP
# --------------------------------------------------------------------------------------------------


def _readme_pdf(title: str) -> bytes:
    """A tiny but well-formed one-page PDF (correct xref offsets)."""
    text = f"BT /F1 14 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(text)).encode() + b" >>\nstream\n" + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _write_zip_extras(sink: _Sink, user: UserProfile, fmt: str, account_json: bool) -> None:
    if fmt in VINTAGES:
        sink.put("ReadMeFirst_ExtendedStreamingHistory.pdf", _readme_pdf("Extended Streaming History"))
        return
    sink.put("ReadMeFirst_YourAccountData.pdf", _readme_pdf("Your Spotify Account Data"))
    if not account_json:
        return
    for name, payload in (
        ("Userdata.json", _userdata(user)),
        ("Playlist1.json", _playlists(user)),
        ("YourLibrary.json", _library(user)),
    ):
        sink.put(name, _ENCODE(payload).encode())


def _userdata(user: UserProfile) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": f"{user.user_id}@example.com",
        "country": user.country,
        "createdFromFacebook": False,
        "facebookUid": None,
        "birthdate": "1990-01-01",
        "gender": "neutral",
        "postalCode": None,
        "mobileNumber": None,
        "mobileOperator": None,
        "mobileBrand": None,
        "creationTime": user.since.isoformat(),
    }


def _track_item(t: Track) -> dict[str, Any]:
    return {
        "track": {"trackName": t.name, "artistName": t.artist, "albumName": t.album, "trackUri": t.uri},
        "episode": None,
        "audiobook": None,
        "localTrack": None,
        "addedDate": "2024-01-19",
    }


def _playlists(user: UserProfile) -> dict[str, Any]:
    tracks = user.catalog.tracks
    rng = random.Random(_mix(user.key, 21))
    playlists = []
    for k in range(rng.randint(2, 6)):
        items = [_track_item(tracks[rng.choice(user.core)]) for _ in range(rng.randint(3, 25))]
        playlists.append(
            {
                "name": _phrase(rng, user.lang, 2) if k else "On Repeat-ish",
                "lastModifiedDate": "2024-06-28",
                "items": items,
                "description": None,
                "numberOfFollowers": 0,
            }
        )
    return {"playlists": playlists}


def _library(user: UserProfile) -> dict[str, Any]:
    cat = user.catalog
    tracks = [
        {"artist": t.artist, "album": t.album, "track": t.name, "uri": t.uri}
        for t in (cat.tracks[i] for i in user.core[:50])
    ]
    artists = [
        {"name": cat.artists[a].name, "uri": f"spotify:artist:{_spotify_id(cat.seed, 'a', a)}"}
        for a in user.fav_artists
    ]
    shows = [
        {
            "name": cat.shows[s].name,
            "publisher": cat.shows[s].publisher,
            "uri": f"spotify:show:{_spotify_id(cat.seed, 's', s)}",
        }
        for s in user.shows
    ]
    return {
        "tracks": tracks,
        "albums": [],
        "shows": shows,
        "episodes": [],
        "bannedTracks": [],
        "artists": artists,
        "bannedArtists": [],
        "other": [],
    }


# --------------------------------------------------------------------------------------------------
# Datasets for benchmarks, and the demo preset
# --------------------------------------------------------------------------------------------------

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
    DemoSpec(
        "demo-kenji",
        "Kenji Watanabe",
        "Asia/Tokyo",
        "endsong",
        ((date(2020, 12, 1), date(2022, 12, 10)),),
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


DAY_MS = 86_400_000


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
