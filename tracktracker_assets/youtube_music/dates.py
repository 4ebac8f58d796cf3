"""The local times of Google Takeout's HTML activity pages, in their English layouts.

Takeout writes each entry's time in the account's language and time zone, as the page's locale
formats it (research: exports of en-US, en-GB, en-IN and en-AU accounts):

    en-US  "Dec 8, 2025, 7:47:35 PM GMT+05:30"   also "Dec 8, 2025, 7:47:35\u202fPM EST"
    en-GB  "8 Dec 2025, 19:47:35 GMT+05:30"      also "8 Dec 2025, 19:47:35 CET"
    en-IN  "8 Sept 2025, 19:47:35 GMT+05:30"     ("Sept": four letters, unlike en-GB's "Sep")
    full   "December 8, 2025 at 7:47:35 PM UTC"  (older pages spell the month out)

Spaces may be NBSP or NARROW NBSP (newer ICU data). The zone is a "GMT±HH:MM" offset, "GMT"/"UTC",
or an abbreviation; only abbreviations with one meaning are accepted (IST is India, Israel and
Ireland: refused rather than guessed). Anything else is refused, naming the entry.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

# abbreviations Takeout prints for zones without a GMT offset label, each with one meaning
ZONE_HOURS = {
    "UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "AEST": 10, "AEDT": 11, "ACST": 9.5, "ACDT": 10.5,
    "AWST": 8, "NZST": 12, "NZDT": 13, "JST": 9, "KST": 9,
}  # fmt: skip

_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_ZONE = r"(?P<zone>(?:GMT|UTC)(?:[+\-\u2212]\d{1,2}(?::?\d{2})?)?|[A-Z]{3,4})"
LAYOUTS = (
    # 8 Dec 2025, 19:47:35 GMT+05:30
    re.compile(rf"^(?P<d>\d{{1,2}}) (?P<mon>[A-Za-z]+)\.? (?P<y>\d{{4}}),? (?:at )?{_TIME} {_ZONE}$"),
    # Dec 8, 2025, 7:47:35 PM EST
    re.compile(rf"^(?P<mon>[A-Za-z]+)\.? (?P<d>\d{{1,2}}), (?P<y>\d{{4}}),? (?:at )?{_TIME} {_ZONE}$"),
)


class UnknownLayout(ValueError):
    pass


def _offset(zone: str) -> timezone:
    zone = zone.replace("\u2212", "-")  # MINUS SIGN (some locales)
    found = re.fullmatch(r"(?:GMT|UTC)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?", zone)
    if found:
        if not found.group(1):
            return UTC
        minutes = int(found.group(2)) * 60 + int(found.group(3) or 0)
        return timezone(timedelta(minutes=minutes if found.group(1) == "+" else -minutes))
    if zone in ZONE_HOURS:
        return timezone(timedelta(hours=ZONE_HOURS[zone]))
    raise UnknownLayout(f"unknown time zone '{zone}'")


def parse_local_time(text: str) -> datetime:
    """The UTC instant of a Takeout HTML time; UnknownLayout if the layout is none of LAYOUTS."""
    normal = re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()
    for layout in LAYOUTS:
        found = layout.match(normal)
        if found:
            break
    else:
        raise UnknownLayout(f"'{text}' is in no known date layout")
    month = MONTHS.get(found["mon"].lower())
    if month is None:
        raise UnknownLayout(f"unknown month name '{found['mon']}' in '{text}'")
    hour = int(found["h"])
    if found["ampm"]:
        if not 1 <= hour <= 12:
            raise UnknownLayout(f"hour {hour} with AM/PM in '{text}'")
        hour = hour % 12 + (12 if found["ampm"][0] in "Pp" else 0)
    try:
        local = datetime(
            int(found["y"]), month, int(found["d"]), hour, int(found["mi"]), int(found["s"]),
            tzinfo=_offset(found["zone"]),
        )  # fmt: skip
    except ValueError as exc:
        raise UnknownLayout(f"'{text}' is no valid date ({exc})") from None
    return local.astimezone(UTC)
