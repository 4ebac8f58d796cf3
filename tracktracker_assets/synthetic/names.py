"""Invented names in several scripts: artists, tracks, albums, people, phrases."""

# ruff: noqa: RUF001  (names are deliberately written in Cyrillic and other scripts)
from __future__ import annotations

import random
from collections.abc import Callable

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
