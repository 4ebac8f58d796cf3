"""Time units, the dates where real exports change shape, and epoch-ms conversions."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DAY_START_HOUR = 4  # a listening day runs 04:00-04:00 local: night owls' sessions stay on "their" day


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


# Dates where real exports change shape (read off real public exports of several vintages: platform
# strings switch to short names, audiobook fields appear).
PLATFORM_CUTOVER_MS = _ms(2022, 12, 15)  # "Android OS 12 API 31 (...)" becomes "android"
AUDIOBOOKS_FROM_MS = _ms(2023, 10, 1)  # Spotify audiobooks launch
VIDEO_OFFLINE_FROM_MS = _ms(2025, 1, 1)  # newest exports fill offline fields of video rows from 2025 on
VIDEO_NULL_BEFORE_MS = _ms(2021, 1, 1)  # early video rows come without any content fields
RECENT_MASK_MS = 14 * DAY_MS  # endsong exports leave the last ~2 weeks without content (not processed yet)


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
