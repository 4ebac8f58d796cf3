"""Apple's companion files that name artists but hold no plays: loaded as hints, never counted.

Play Activity since 2022 names the song and its album but not the artist. Three other files of the
same export do name it, each in its own way:

- *Apple Music - Play History Daily Tracks.csv*: one row per track and day (play counts summed, hours
  listed), "Track Description" = "Artist - Title";
- *Apple Music - Recently Played Tracks.csv*: one row per recently played track (2020: 8 columns;
  2024: 22, with Apple's header typo "Last End Reason Tyoe"), "Artist - Title" again, "null - Title"
  when Apple did not know the artist;
- *Apple Music Library Tracks.json*: the library, with Title, Artist and Album as fields.

Their rows are aggregates (or no listening at all), so each loads into its own bronze table with
kind="hints": staging joins them to Play Activity by title (and album where the library gives one)
to fill the artist, and they never become plays. The library alone is not history at all, so it is
refused unless a Play Activity file comes with it.

How many plays stay without an artist is counted in artists.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import IO, Any

from tracktracker_assets.apple_music import artists, csvfiles
from tracktracker_assets.apple_music.csvfiles import Record, boolean, day, integer, text, timestamp
from tracktracker_assets.apple_music.privacy import is_private
from tracktracker_assets.apple_music.recognise import ITUNES_EPOCH, sniff_daily, sniff_library, sniff_recent
from tracktracker_assets.exports.rowformats import ReadContext, Row, RowFormat, batched, json_text

NOT_PLAYS = (
    "{name}: {what} hold per-{unit} totals, not single plays: they add no plays, they only name the "
    "artist of Play Activity plays that lack one. Import Apple Music Play Activity.csv (or the whole "
    "Apple_Media_Services.zip) for your listening history."
)
LIBRARY_ALONE = (
    "this is your Apple Music library, not listening history; import Apple_Media_Services.zip or "
    "Apple Music Play Activity.csv (the library may come with it, to name artists Play Activity lacks)."
)


# -- Play History Daily Tracks -----------------------------------------------------------------------

DAILY_TYPED = {
    "Date Played": "date_played",
    "Track Description": "track_description",
    "Track Identifier": "track_identifier",
    "Track Reference": "track_reference",
    "Hours": "hours",
    "Play Duration Milliseconds": "play_duration_ms",
    "Play Count": "play_count",
    "Skip Count": "skip_count",
    "End Reason Type": "end_reason_type",
    "Source Type": "source_type",
    "Media type": "media_type",
    "Country": "country",
    "Ignore For Recommendations": "ignore_for_recommendations",
}
DAILY_COLUMNS = (*DAILY_TYPED.values(), "extra")


def read_daily(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    def row(record: Record) -> Row:
        values = {
            # a day; as midnight UTC, the time every row has for the loader's checks
            "date_played": _midnight(day(record, "Date Played", context)),
            "play_duration_ms": integer(record, "Play Duration Milliseconds", context),
            "play_count": integer(record, "Play Count", context),
            "skip_count": integer(record, "Skip Count", context),
            "ignore_for_recommendations": boolean(record, "Ignore For Recommendations"),
        }
        if values["date_played"] is None:
            raise context.problem(
                f"line {record.line} has no Date Played.", record=record.number, hint=csvfiles.AS_DELIVERED
            )
        return _typed_row(record, DAILY_TYPED, values, context)

    context.notes.append(NOT_PLAYS.format(name=context.name, what="Play History Daily Tracks", unit="day"))
    return batched(row(r) for r in csvfiles.records(raw, context, "Apple Music Play History Daily Tracks"))


def _midnight(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), UTC)


# -- Recently Played Tracks --------------------------------------------------------------------------

RECENT_TYPED = {
    "Last Modified": "last_modified_at",
    "Track Description": "track_description",
    "Track Reference": "track_reference",
    "Container Type": "container_type",
    "Container Description": "container_description",
    "Container Reference": "container_reference",
    "Country": "country",
    "Ignore For Recommendations": "ignore_for_recommendations",
    "Total plays": "total_plays",
    "Media duration in millis": "media_duration_ms",
}
RECENT_COLUMNS = (*RECENT_TYPED.values(), "extra")


def read_recent(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    def row(record: Record) -> Row:
        values = {
            "last_modified_at": timestamp(record, "Last Modified", context),
            "ignore_for_recommendations": boolean(record, "Ignore For Recommendations"),
            "total_plays": integer(record, "Total plays", context),
            "media_duration_ms": integer(record, "Media duration in millis", context),
        }
        if values["last_modified_at"] is None:
            raise context.problem(
                f"line {record.line} has no Last Modified time.",
                record=record.number,
                hint=csvfiles.AS_DELIVERED,
            )
        return _typed_row(record, RECENT_TYPED, values, context)

    context.notes.append(NOT_PLAYS.format(name=context.name, what="Recently Played Tracks", unit="track"))
    return batched(row(r) for r in csvfiles.records(raw, context, "Apple Music Recently Played Tracks"))


def _typed_row(record: Record, typed: dict[str, str], values: dict[str, Any], context: ReadContext) -> Row:
    """The typed columns (texts unless given in `values`), then the rest of the record as `extra`."""
    extra = {}
    for name, value in record.items():
        if is_private(name):
            context.dropped.add(name)
        elif name not in typed and value.strip():
            extra[name] = value
    row = [values[c] if c in values else text(record, name) for name, c in typed.items()]
    return (*row, json_text(extra or None))


# -- Apple Music Library Tracks.json -----------------------------------------------------------------

LIBRARY_TYPED = {
    "Date Added To Library": "date_added_at",
    "Track Identifier": "track_identifier",
    "Apple Music Track Identifier": "apple_music_track_identifier",
    "Content Type": "content_type",
    "Title": "title",
    "Artist": "artist",
    "Album": "album",
    "Album Artist": "album_artist",
    "Track Duration": "track_duration_ms",
}
LIBRARY_COLUMNS = (*LIBRARY_TYPED.values(), "extra")
LIBRARY_NUMBERS = ("track_identifier", "apple_music_track_identifier", "track_duration_ms")


def read_library(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    if not artists.has_play_activity(context):
        raise context.problem(LIBRARY_ALONE)
    records = artists.library_records(raw, context)
    context.notes.append(
        f"{context.name}: your library adds no plays; it names the artist of Play Activity plays "
        "that lack one."
    )
    return batched(_library_row(n, r, context) for n, r in enumerate(records, 1))


def _library_row(number: int, record: Any, context: ReadContext) -> Row:
    if not isinstance(record, dict):
        raise context.problem(
            "is no library track (not a JSON object).", record=number, hint=csvfiles.AS_DELIVERED
        )
    values: dict[str, Any] = {}
    for name, column in LIBRARY_TYPED.items():
        value = record.get(name)
        if column in LIBRARY_NUMBERS:
            value = value if isinstance(value, int) and not isinstance(value, bool) else None
        elif column == "date_added_at":
            value = _iso(value, record, number, context)
        elif value is not None:
            value = str(value).strip() or None
        values[column] = value
    if values["date_added_at"] is None:
        raise context.problem(
            "has neither Date Added To Library nor Last Modified Date.",
            record=number,
            hint=csvfiles.AS_DELIVERED,
        )
    extra = {}
    for name, value in record.items():
        if is_private(name):
            context.dropped.add(name)
        elif name not in LIBRARY_TYPED:
            extra[name] = value
    return (*(values[c] for c in LIBRARY_TYPED.values()), json_text(extra or None))


def _iso(value: Any, record: dict[str, Any], number: int, context: ReadContext) -> datetime | None:
    value = value or record.get("Last Modified Date")
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise context.problem(
            f"Date Added To Library {value!r} is no date and time.", record=number, hint=csvfiles.AS_DELIVERED
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- the artist of Play Activity plays, from the hints of the same import ----------------------------


DAILY_TRACKS = RowFormat(
    name="apple_music_daily_tracks_csv",
    description="Apple Music daily play totals per track (Apple Music - Play History Daily Tracks.csv)",
    service="apple_music",
    table="bronze.apple_music_daily_tracks",
    columns=DAILY_COLUMNS,
    time_column="date_played",
    sniff=sniff_daily,
    read=read_daily,
    earliest=ITUNES_EPOCH,
    kind="hints",
)
RECENTLY_PLAYED = RowFormat(
    name="apple_music_recently_played_csv",
    description="Apple Music recently played tracks (Apple Music - Recently Played Tracks.csv)",
    service="apple_music",
    table="bronze.apple_music_recently_played",
    columns=RECENT_COLUMNS,
    time_column="last_modified_at",
    sniff=sniff_recent,
    read=read_recent,
    earliest=ITUNES_EPOCH,
    kind="hints",
)
LIBRARY_TRACKS = RowFormat(
    name="apple_music_library_tracks_json",
    description="Apple Music library tracks, naming artists (Apple Music Library Tracks.json)",
    service="apple_music",
    table="bronze.apple_music_library_tracks",
    columns=LIBRARY_COLUMNS,
    time_column="date_added_at",
    sniff=sniff_library,
    read=read_library,
    # a library carries tracks added long before Apple Music, back to the first iTunes
    earliest=ITUNES_EPOCH,
    kind="hints",
)
