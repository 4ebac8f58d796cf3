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

How many plays stay without an artist is said in the import report of the Play Activity file
(`UnresolvedArtists`): counted over the file's own end events against the hint files of the same
import, with the same matching rule as staging (macros/apple_music.sql). Hints loaded by an earlier
import are not counted there (the reader has no database), so the refresh may still fill some.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from tracktracker_assets.apple_music import csvfiles
from tracktracker_assets.apple_music.csvfiles import Record, boolean, day, integer, text, timestamp
from tracktracker_assets.apple_music.privacy import is_private
from tracktracker_assets.exports.rowformats import Head, ReadContext, Row, RowFormat, batched, json_text

# iTunes (whose library and play history Apple Music carries on) began in January 2001
ITUNES_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
SNIFF_BYTES = 64 * 1024
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


def sniff_daily(head: Head) -> bool:
    return {"Date Played", "Track Description", "Play Duration Milliseconds"} <= set(csvfiles.header_of(head))


def read_daily(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    def row(record: Record) -> Row:
        values = {
            "date_played": day(record, "Date Played", context),
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


def sniff_recent(head: Head) -> bool:
    return {"Last Modified", "Track Description", "Container Description"} <= set(csvfiles.header_of(head))


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


def sniff_library(head: Head) -> bool:
    body = head.text
    return head.starts_with(b"[") and '"Track Identifier"' in body and '"Content Type"' in body


def read_library(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    if not has_play_activity(context):
        raise context.problem(LIBRARY_ALONE)
    records = _library_records(raw, context)
    context.notes.append(
        f"{context.name}: your library adds no plays; it names the artist of Play Activity plays "
        "that lack one."
    )
    return batched(_library_row(n, r, context) for n, r in enumerate(records, 1))


def _library_records(raw: IO[bytes], context: ReadContext) -> list[Any]:
    try:
        records = json.loads(raw.read().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise context.problem(
            f"not UTF-8 text (invalid byte at offset {exc.start}).", hint=csvfiles.AS_DELIVERED
        ) from exc
    except json.JSONDecodeError as exc:
        raise context.problem(
            f"no valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): cut short or damaged.",
            hint=csvfiles.AS_DELIVERED,
        ) from exc
    if not isinstance(records, list) or not records:
        raise context.problem("holds no library tracks.", hint=csvfiles.AS_DELIVERED)
    return records


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


def name_key(value: str | None) -> str:
    """As dbt's name_key macro: trimmed, spaces collapsed, lower case."""
    return " ".join((value or "").split()).lower()


def description_splits(description: str | None) -> Iterator[tuple[str, str]]:
    """Every (artist, title) an "Artist - Title" description can mean: both may contain " - "."""
    parts = (description or "").split(" - ")
    if parts[0].strip().lower() == "null":
        return  # "null - Title": Apple did not know the artist
    for i in range(1, len(parts)):
        artist, title = " - ".join(parts[:i]).strip(), " - ".join(parts[i:]).strip()
        if artist and title:
            yield artist, title


class ArtistHints:
    """Artists by title (and by title and album, from the library), as staging matches them."""

    def __init__(self) -> None:
        self.by_title: dict[str, set[str]] = defaultdict(set)
        self.by_title_album: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add_description(self, description: str | None) -> None:
        for artist, title in description_splits(description):
            self.by_title[name_key(title)].add(name_key(artist))

    def add_library(self, title: str | None, artist: str | None, album: str | None) -> None:
        if title and artist:
            self.by_title[name_key(title)].add(name_key(artist))
            if album:
                self.by_title_album[(name_key(title), name_key(album))].add(name_key(artist))

    def resolves(self, title: str | None, album: str | None) -> bool:
        """One artist for the title and album in the library, else one for the title anywhere."""
        if len(self.by_title_album.get((name_key(title), name_key(album)), ())) == 1:
            return True
        return len(self.by_title.get(name_key(title), ())) == 1


def is_play(row: dict[str, Any]) -> bool:
    """As staging: an end event (PLAY_END, or no Event Type in older files) of a named song that played."""
    return (
        (row.get("event_type") or "PLAY_END") == "PLAY_END"
        and (row.get("event_type") is not None or row.get("end_reason_type") is not None)
        and row.get("event_end_at") is not None
        and row.get("song_name") is not None
        and (row.get("play_duration_ms") or 0) > 0
        and row.get("item_type") not in ("AD", "AGGREGATE_NON_CATALOG_PLAY_TIME")
    )


class UnresolvedArtists:
    """Counts the Play Activity end events without an artist, and says it in the import report."""

    def __init__(self, context: ReadContext) -> None:
        self.context = context
        self.without: list[tuple[str | None, str | None]] = []
        self.plays = 0

    def add(self, row: dict[str, Any]) -> None:
        if not is_play(row):
            return
        self.plays += 1
        if row.get("artist_name") is None and row.get("container_artist_name") is None:
            self.without.append(
                (row.get("song_name"), row.get("album_name") or row.get("container_album_name"))
            )

    def report(self) -> None:
        if not self.without:
            return
        found, names = sibling_hints(self.context)
        left = sum(1 for title, album in self.without if not found.resolves(title, album))
        named = (
            f"the artist files of this import ({', '.join(names)}) name it for {len(self.without) - left}"
            if names
            else "no artist file came with this import"
        )
        self.context.notes.append(
            f"{self.context.name}: {len(self.without)} of {self.plays} play events name no artist; "
            f"{named}; {left} stay without an artist. Import Apple Music Library Tracks.json, Apple "
            "Music - Play History Daily Tracks.csv or Apple Music - Recently Played Tracks.csv from the "
            "same export to name them (artist files imported earlier are used too)."
        )


Opener = Callable[[], IO[bytes]]


def _sibling_heads(context: ReadContext) -> Iterator[tuple[str, Opener, Head]]:
    for name, opener in context.siblings.items():
        try:
            with opener() as stream:
                data = stream.read(SNIFF_BYTES + 1)
        except OSError:
            continue
        yield name, opener, Head(name, data[:SNIFF_BYTES], complete=len(data) <= SNIFF_BYTES)


def has_play_activity(context: ReadContext) -> bool:
    from tracktracker_assets.apple_music.play_activity import sniff

    return any(sniff(head) for _, _, head in _sibling_heads(context))


def sibling_hints(context: ReadContext) -> tuple[ArtistHints, list[str]]:
    """The artist hints of the hint files among the siblings (a damaged one is skipped here: its own
    load reports it)."""
    found = ArtistHints()
    names: list[str] = []
    for name, opener, head in _sibling_heads(context):
        scratch = ReadContext(name)
        try:
            with opener() as stream:
                if sniff_library(head):
                    for record in _library_records(stream, scratch):
                        if isinstance(record, dict):
                            found.add_library(record.get("Title"), record.get("Artist"), record.get("Album"))
                elif sniff_daily(head) or sniff_recent(head):
                    for record in csvfiles.records(stream, scratch, "Apple Music"):
                        found.add_description(text(record, "Track Description"))
                else:
                    continue
        except Exception:
            continue
        names.append(name)
    return found, names


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
