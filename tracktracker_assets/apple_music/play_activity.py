"""Apple Music Play Activity.csv: every playback event Apple recorded, both layouts, into one table.

Two layouts are known. Until about 2021 the file had 44 columns and named the track and its artist
(Content Name, Artist Name). Since 2022 it has over a hundred columns (Song Name, Album Name,
Container Album Name, Container Artist Name) and no artist of the track at all; the artist comes from
the companion files (hints.py), joined in staging.

Bronze keeps every row as received (PLAY_START and LYRIC_DISPLAY events, ads, zero and negative
durations included): deciding what a play is belongs to staging (stg_apple_music__play_activity).
Privacy columns (account and device ids, IP address and IP geolocation) are never kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO

from tracktracker_assets.apple_music import artists, csvfiles
from tracktracker_assets.apple_music.csvfiles import Record, boolean, integer, timestamp
from tracktracker_assets.apple_music.privacy import is_private
from tracktracker_assets.apple_music.recognise import ITUNES_EPOCH, sniff_play_activity
from tracktracker_assets.exports.rowformats import ReadContext, Row, RowFormat, batched, json_text

WHAT = "Apple Music Play Activity"
LEGACY, SONG_NAME = "pre2022", "2022"

# header name in either layout -> bronze column; everything else (not private) goes to `extra`
TYPED: dict[str, str] = {
    "Event Type": "event_type",
    "End Reason Type": "end_reason_type",
    "Item Type": "item_type",
    "Media Type": "media_type",
    "Content Specific Type": "content_specific_type",
    "Song Name": "song_name",
    "Content Name": "song_name",
    "Artist Name": "artist_name",
    "Album Name": "album_name",
    "Container Album Name": "container_album_name",
    "Container Artist Name": "container_artist_name",
    "Container Type": "container_type",
    "Container ID": "container_id",
    "Build Version": "build_version",
    "Device OS Name": "device_os_name",
    "Device Type": "device_type",
    "Feature Name": "feature_name",
    "Offline": "offline",
    "Play Duration Milliseconds": "play_duration_ms",
    "Media Duration In Milliseconds": "media_duration_ms",
    "Start Position In Milliseconds": "start_position_ms",
    "End Position In Milliseconds": "end_position_ms",
    "UTC Offset In Seconds": "utc_offset_s",
    "Event Start Timestamp": "event_start_at",
    "Event End Timestamp": "event_end_at",
    "Event Received Timestamp": "event_received_at",
}
NUMBERS = ("play_duration_ms", "media_duration_ms", "start_position_ms", "end_position_ms", "utc_offset_s")
TIMES = ("event_start_at", "event_end_at", "event_received_at")
TEXTS = tuple(dict.fromkeys(c for c in TYPED.values() if c not in NUMBERS + TIMES and c != "offline"))
COLUMNS = ("layout", "event_at", *TIMES, *TEXTS, "offline", *NUMBERS, "extra")


def read(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    return batched(_rows(raw, context))


def _rows(raw: IO[bytes], context: ReadContext) -> Iterator[Row]:
    counter = artists.UnresolvedArtists(context)
    plan: _Plan | None = None
    for record in csvfiles.records(raw, context, WHAT):
        if plan is None:  # every record has the header's fields: sort them out once per file
            plan = _Plan(list(record), context)
        row = _row(record, context, plan)
        counter.add(_RowView(row))
        yield row
    counter.report()


_POSITION = {column: i for i, column in enumerate(COLUMNS)}


class _RowView:
    """A bronze row read by column name, as the artist count asks (no dict built per row)."""

    __slots__ = ("_row",)

    def __init__(self, row: Row) -> None:
        self._row = row

    def get(self, column: str, default: object = None) -> object:
        value = self._row[_POSITION[column]]
        return default if value is None else value


class _Plan:
    """What becomes of each field of the file's header: dropped (private), typed (how, into which
    column), or kept in extra. Worked out once per file: every record has the header's fields."""

    def __init__(self, header: list[str], context: ReadContext) -> None:
        private = [name for name in header if is_private(name)]
        context.dropped.update(private)
        self.extra = [name for name in header if name not in TYPED and name not in private]
        self.layout = SONG_NAME if "Song Name" in header else LEGACY
        # (header name, bronze column) by kind; a column two names fill (Song Name / Content Name)
        # is filled by the one the file has
        present = [(name, column) for name, column in TYPED.items() if name in header]
        self.numbers = [(n, c) for n, c in present if c in NUMBERS]
        self.times = [(n, c) for n, c in present if c in TIMES]
        self.texts = [(n, c) for n, c in present if c not in NUMBERS and c not in TIMES and c != "offline"]
        self.offline = next((n for n, c in present if c == "offline"), None)
        self.order = (*TIMES, *TEXTS, "offline", *NUMBERS)


def _number(record: Record, name: str, context: ReadContext) -> int | None:
    value = record[name].strip()
    if value.isdigit():  # the common case, without a call into the careful reader
        return int(value)
    return integer(record, name, context)


def _time(record: Record, name: str, context: ReadContext) -> object:
    value = record[name].strip()
    if value.endswith("Z") and len(value) >= 20:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return timestamp(record, name, context)


def _row(record: Record, context: ReadContext, plan: _Plan) -> Row:
    # the fields are read inline (this runs for every event of files of millions of events)
    values: dict[str, object] = {column: record[name].strip() or None for name, column in plan.texts}
    for name, column in plan.numbers:
        values[column] = _number(record, name, context)
    for name, column in plan.times:
        values[column] = _time(record, name, context)
    if plan.offline is not None:
        values["offline"] = boolean(record, plan.offline)
    extra = {name: record[name] for name in plan.extra if record[name].strip()}
    # PLAY_START events have no end and some events no start; every row has one of the three
    event_at = values.get("event_end_at") or values.get("event_start_at") or values.get("event_received_at")
    if event_at is None:
        raise context.problem(
            f"line {record.line} has no Event Start, End or Received Timestamp.",
            record=record.number,
            hint=csvfiles.AS_DELIVERED,
        )
    get = values.get
    return (plan.layout, event_at, *[get(column) for column in plan.order], json_text(extra or None))


PLAY_ACTIVITY = RowFormat(
    name="apple_music_play_activity_csv",
    description="Apple Music playback events (Apple Music Play Activity.csv)",
    service="apple_music",
    table="bronze.apple_music_play_activity",
    columns=COLUMNS,
    time_column="event_at",
    sniff=sniff_play_activity,
    read=read,
    # Apple Music started on 30 June 2015; older iTunes Match events appear in some exports
    earliest=ITUNES_EPOCH,
)
