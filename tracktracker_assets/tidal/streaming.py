"""Tidal's GDPR export `streaming.csv`: one row per stream.

Columns: artist_name, track_title, entry_date, stream_duration_ms, product_type, ip_address,
client_name_from_session, country_name, region_name, city_name, postal_code, time_zone. Missing values
are the literal text "null"; stream_duration_ms is float text ("270000.0", "330.00000000000000").

Time rule: entry_date ("DD/MM/YYYY H:MM", minute precision) is the
local wall-clock time in the row's IANA `time_zone` at which the stream began. ListenBrainz's Tidal
importer (metabrainz/listenbrainz-server PR #3643, listens_importer/tidal.py) reads it the same way:
localised with ZoneInfo(time_zone) and submitted as `listened_at`, which is a listen's start. A row
whose zone is null or unknown to the tz database is read as UTC, and the report counts them.
Ambiguous or skipped local times at a DST change resolve as Python's zoneinfo does (fold=0).

Privacy: ip_address, region_name, city_name and postal_code are never kept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracktracker_assets.exports.rowformats import (
    Head,
    ReadContext,
    Row,
    batched,
    decode_problem,
    json_text,
    text_stream,
)

TABLE = "bronze.tidal_streaming"
COLUMNS = (
    "started_at",
    "entry_date",
    "time_zone",
    "artist_name",
    "track_title",
    "stream_duration_ms",
    "product_type",
    "client_name",
    "country_name",
    "extra",
)
REQUIRED = ("artist_name", "track_title", "entry_date")
PRIVATE = ("ip_address", "region_name", "city_name", "postal_code")
TYPED = {
    "artist_name",
    "track_title",
    "entry_date",
    "stream_duration_ms",
    "product_type",
    "client_name_from_session",
    "country_name",
    "time_zone",
}
HINT = "Use streaming.csv from Tidal's personal data export exactly as delivered."
_ENTRY_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})$")


def sniff(head: Head) -> bool:
    return set(REQUIRED) <= set(head.csv_header())


@cache
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _value(text: str | None) -> str | None:
    """The literal "null" (and an empty cell) is no value."""
    if text is None:
        return None
    text = text.strip()
    return None if text in ("", "null") else text


def _rows(stream: IO[bytes], context: ReadContext) -> Iterator[Row]:
    text = text_stream(stream, context)
    reader = csv.reader(text)
    number = 0
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise context.problem(f"has no column {', '.join(missing)} in its header line.", hint=HINT)
        no_zone = 0
        bad_zones: dict[str, int] = {}
        for cells in reader:
            number += 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise context.problem(
                    f"line {reader.line_num} has {len(cells)} fields, the header "
                    f"{len(header)}: the file is truncated or damaged.",
                    record=number,
                    hint=HINT,
                )
            row = dict(zip(header, cells, strict=True))
            found = _ENTRY_DATE.match(row["entry_date"].strip())
            try:
                day, month, year, hour, minute = map(int, found.groups()) if found else (0,) * 5
                local = datetime(year, month, day, hour, minute)
            except ValueError:
                raise context.problem(
                    f"line {reader.line_num} has entry_date '{row['entry_date']}', "
                    "not a date like 08/03/2022 19:01 (DD/MM/YYYY H:MM).",
                    record=number,
                    hint=HINT,
                ) from None
            zone_name = _value(row.get("time_zone"))
            zone = _zone(zone_name) if zone_name else None
            if zone_name is None:
                no_zone += 1
            elif zone is None:
                bad_zones[zone_name] = bad_zones.get(zone_name, 0) + 1
            started_at = local.replace(tzinfo=zone or UTC).astimezone(UTC)
            duration = _value(row.get("stream_duration_ms"))
            try:
                duration_ms = Decimal(duration) if duration is not None else None
            except InvalidOperation:
                duration_ms = None
            if duration is not None and (duration_ms is None or not duration_ms.is_finite()):
                raise context.problem(
                    f"line {reader.line_num} has stream_duration_ms '{duration}', not a number.",
                    record=number,
                    hint=HINT,
                )
            for column in PRIVATE:
                if column in row:
                    context.dropped.add(column)
            extra = {k: _value(v) for k, v in row.items() if k not in TYPED and k not in PRIVATE}
            yield (
                started_at,
                row["entry_date"],
                zone_name,
                _value(row["artist_name"]),
                _value(row["track_title"]),
                duration,  # validated above; numeric takes the text as written
                _value(row.get("product_type")),
                _value(row.get("client_name_from_session")),
                _value(row.get("country_name")),
                json_text({k: v for k, v in extra.items() if v is not None} or None),
            )
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc, record=number + 1) from None
    except csv.Error as exc:
        raise context.problem(
            f"line {reader.line_num} is no valid CSV ({exc}).", record=number + 1, hint=HINT
        ) from None
    if number == 0:
        raise context.problem("holds only its header line: no streams.", hint=HINT)
    if no_zone or bad_zones:
        parts = []
        if no_zone:
            parts.append(f"{no_zone} streams have no time zone")
        if bad_zones:
            listed = ", ".join(f"'{z}'" for z in sorted(bad_zones))
            parts.append(f"{sum(bad_zones.values())} an unknown one ({listed})")
        context.notes.append(f"{' and '.join(parts)}: their entry_date is read as UTC.")


def read(stream: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    yield from batched(_rows(stream, context))
