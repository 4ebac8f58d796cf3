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

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import compress
from operator import itemgetter
from typing import IO, Any

from tracktracker_assets.apple_music import artists, csvfiles
from tracktracker_assets.apple_music.csvfiles import Record, integer, timestamp
from tracktracker_assets.apple_music.privacy import is_private
from tracktracker_assets.apple_music.recognise import ITUNES_EPOCH, sniff_play_activity
from tracktracker_assets.exports.rowformats import Pieces, ReadContext, Row, RowFormat, batched, json_text

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
    counter = artists.UnresolvedArtists(context)
    yield from batched(_rows(raw, context, counter))
    counter.report()


def read_piece(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    """A piece of a big file (its header line in front): the plays without an artist are counted
    in context.tally, for `report_pieces`."""
    counter = artists.UnresolvedArtists(context)
    yield from batched(_rows(raw, context, counter))
    context.tally = counter.tally


def report_pieces(tallies: list[Any], context: ReadContext) -> None:
    counter = artists.UnresolvedArtists(context)
    for tally in tallies:
        counter.add(tally)
    counter.report()


def _rows(raw: IO[bytes], context: ReadContext, counter: artists.UnresolvedArtists) -> Iterator[Row]:
    rows = csvfiles.Rows(raw, context, WHAT)
    plan: _Plan | None = None
    for fields in rows:
        if plan is None:  # every record has the header's fields: sort them out once per file
            plan = _Plan(rows.header, context)
        yield plan.row(fields, rows, counter)


def _getter(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The fields at `indices` of a record, as a tuple (itemgetter returns a bare field for one)."""
    if len(indices) == 1:
        index = indices[0]
        return lambda fields: (fields[index],)
    return itemgetter(*indices)


# positions in TEXTS of what the artist count reads
_EVENT, _REASON, _ITEM, _SONG, _ARTIST, _ALBUM, _CONTAINER_ARTIST, _CONTAINER_ALBUM = map(
    TEXTS.index,
    (
        "event_type",
        "end_reason_type",
        "item_type",
        "song_name",
        "artist_name",
        "album_name",
        "container_artist_name",
        "container_album_name",
    ),
)
_DURATION = NUMBERS.index("play_duration_ms")
_START, _END, _RECEIVED = map(TIMES.index, ("event_start_at", "event_end_at", "event_received_at"))


class _Plan:
    """Where each bronze column is in the file's records, by position: worked out once per file
    (every record has the header's fields). Private fields are dropped, fields without a column of
    their own go to `extra`. A column the file's layout lacks reads an empty field appended to each
    record (position len(header)); a column two names fill (Song Name / Content Name) is filled by
    the one the file has."""

    def __init__(self, header: list[str], context: ReadContext) -> None:
        private = {name for name in header if is_private(name)}
        context.dropped.update(private)
        self.layout = SONG_NAME if "Song Name" in header else LEGACY
        position = {name: i for i, name in enumerate(header)}
        where = {column: position[name] for name, column in TYPED.items() if name in position}
        named = {name: column for name, column in TYPED.items() if name in position}
        absent = len(header)

        def columns(of: tuple[str, ...]) -> tuple[Callable[[list[str]], tuple[str, ...]], list[str]]:
            # the getter, and the header name of each column for messages
            names = {column: name for name, column in named.items()}
            return _getter([where.get(c, absent) for c in of]), [names.get(c, c) for c in of]

        self.times, self.time_names = columns(TIMES)
        self.texts, _ = columns(TEXTS)
        self.numbers, self.number_names = columns(NUMBERS)
        self.offline = where.get("offline", absent)
        kept = [(i, name) for i, name in enumerate(header) if name not in TYPED and name not in private]
        self.extra_names = [name for _, name in kept]
        self.extra = _getter([i for i, _ in kept]) if kept else lambda fields: ()
        # values not written as plain digits ("", "25200.0"), read once: a file has few of them
        self.known_numbers: dict[str, int | None] = {"": None}

    def number(self, value: str, name: str, rows: csvfiles.Rows, context: ReadContext) -> int | None:
        number = _number(value, name, rows, context)
        if len(self.known_numbers) < 10_000:
            self.known_numbers[value] = number
        return number

    def row(self, fields: list[str], rows: csvfiles.Rows, counter: artists.UnresolvedArtists) -> Row:
        # the fields are read inline (this runs for every event of files of millions of events)
        fields.append("")
        start, end, received = self.times(fields)
        try:  # the common case: all three in UTC, as Apple writes them ("2020-06-24T00:02:11.022Z")
            if not start[-1:] == end[-1:] == received[-1:] == "Z":
                raise ValueError
            times = [_fromisoformat(start), _fromisoformat(end), _fromisoformat(received)]
        except ValueError:
            times = [
                timestamp(_record(rows, name, value), name, counter.context)
                for value, name in zip((start, end, received), self.time_names, strict=True)
            ]
        texts = [value.strip() or None for value in self.texts(fields)]
        known = self.known_numbers
        numbers = [
            int(value)
            if value.isdigit()
            else known[value]
            if value in known
            else self.number(value, name, rows, counter.context)
            for value, name in zip(self.numbers(fields), self.number_names, strict=True)
        ]
        offline = _BOOLEANS.get(fields[self.offline].strip().lower())
        values = self.extra(fields)
        # the fields that hold something (compress keeps the non-empty ones); blank ones are rare
        extra = dict(compress(zip(self.extra_names, values, strict=True), values))
        if extra and any(map(str.isspace, extra.values())):
            extra = {name: value for name, value in extra.items() if not value.isspace()}
        # PLAY_START events have no end and some events no start; every row has one of the three
        event_at = times[_END] or times[_START] or times[_RECEIVED]
        if event_at is None:
            raise counter.context.problem(
                f"line {rows.line} has no Event Start, End or Received Timestamp.",
                record=rows.number,
                hint=csvfiles.AS_DELIVERED,
            )
        if artists.is_play(
            texts[_EVENT], texts[_REASON], times[_END], texts[_SONG], numbers[_DURATION], texts[_ITEM]
        ):
            counter.add_play(
                texts[_SONG],
                texts[_ALBUM] or texts[_CONTAINER_ALBUM],
                texts[_ARTIST] is not None or texts[_CONTAINER_ARTIST] is not None,
            )
        return (self.layout, event_at, *times, *texts, offline, *numbers, json_text(extra or None))


_BOOLEANS = {"true": True, "false": False}  # in any case: Excel writes TRUE
_fromisoformat = datetime.fromisoformat


def _number(value: str, name: str, rows: csvfiles.Rows, context: ReadContext) -> int | None:
    """A number not written as plain digits: Apple writes some as 25200.0, Excel big ones as 1.2E+5."""
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # "N/A", or no number at all: the careful reader says which
        return integer(_record(rows, name, value), name, context)


def _record(rows: csvfiles.Rows, name: str, value: str) -> Record:
    """The one field a careful reader looks at (an unusual value: it may say what is wrong)."""
    record = Record({name: value})
    record.number, record.line = rows.number, rows.line
    return record


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
    # exports of years of listening hold millions of events of 44 to 100+ fields each
    pieces=Pieces(read=read_piece, report=report_pieces),
)
