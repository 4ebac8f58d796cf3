"""An independent reading of Tidal's streaming.csv: each row's UTC start, from the layout (entry_date
DD/MM/YYYY H:MM local in the row's IANA time_zone; null or unknown zones UTC), with csv.DictReader
and dateutil-free arithmetic, not the product's reader."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

from tests.conftest import REAL_DATA

REAL = REAL_DATA / "other-platforms"
SAMPLE = REAL / "metabrainz--tidal_streaming.csv"
PRIVATE = ("ip_address", "region_name", "city_name", "postal_code")


def streams(text: str) -> list[tuple[datetime, str, str, int]]:
    """(UTC start, artist, title, whole ms) per row."""
    zones = available_timezones()
    found = []
    for row in csv.DictReader(text.splitlines()):
        zone = row["time_zone"] if row["time_zone"] in zones else "UTC"
        local = datetime.strptime(row["entry_date"], "%d/%m/%Y %H:%M")
        start = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        found.append((start, row["artist_name"], row["track_title"], round(float(row["stream_duration_ms"]))))
    return found


def private_values(text: str) -> set[str]:
    return {
        row[column]
        for row in csv.DictReader(text.splitlines())
        for column in PRIVATE
        if row[column] != "null"
    }


def without_line(text: str, marker: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if marker not in line)
