"""The artist of Play Activity plays that lack one, as the hint files of the same import name it.

The import report of a Play Activity file says how many of its play events stay without an artist
(`UnresolvedArtists`): counted over the file's own end events (fragments not merged) against the
hint files among the import's other files, with the matching rule staging uses
(stg_apple_music__play_activity). Hints loaded by an earlier import are not counted here (a reader
has no database), so the refresh may still name some.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import IO, Any

from tracktracker_assets.apple_music import csvfiles
from tracktracker_assets.apple_music.csvfiles import text
from tracktracker_assets.apple_music.recognise import (
    SNIFF_BYTES,
    sniff_daily,
    sniff_library,
    sniff_play_activity,
    sniff_recent,
)
from tracktracker_assets.exports.rowformats import Head, ReadContext

Opener = Callable[[], IO[bytes]]


def library_records(raw: IO[bytes], context: ReadContext) -> list[Any]:
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


def is_play(
    event_type: str | None,
    end_reason_type: str | None,
    event_end_at: object,
    song_name: str | None,
    play_duration_ms: int | None,
    item_type: str | None,
) -> bool:
    """As staging: an end event (PLAY_END, or no Event Type in older files) of a named song that played."""
    return (
        (event_type or "PLAY_END") == "PLAY_END"
        and (event_type is not None or end_reason_type is not None)
        and event_end_at is not None
        and song_name is not None
        and (play_duration_ms or 0) > 0
        and item_type not in ("AD", "AGGREGATE_NON_CATALOG_PLAY_TIME")
    )


class UnresolvedArtists:
    """Counts the Play Activity end events without an artist, and says it in the import report."""

    def __init__(self, context: ReadContext) -> None:
        self.context = context
        # (title, album) of the plays without an artist -> how many
        self.without: Counter[tuple[str | None, str | None]] = Counter()
        self.plays = 0

    def add_play(self, title: str | None, album: str | None, has_artist: bool) -> None:
        """One play event (is_play) of the file; `album` as the file names it (Album Name, else
        Container Album Name)."""
        self.plays += 1
        if not has_artist:
            self.without[(title, album)] += 1

    @property
    def tally(self) -> tuple[Counter[tuple[str | None, str | None]], int]:
        """What was counted, to add to the count of another part of the same file (`add`)."""
        return self.without, self.plays

    def add(self, tally: tuple[Counter[tuple[str | None, str | None]], int]) -> None:
        without, plays = tally
        self.without.update(without)
        self.plays += plays

    def report(self) -> None:
        if not self.without:
            return
        found, names = sibling_hints(self.context)
        total = self.without.total()
        left = sum(n for (title, album), n in self.without.items() if not found.resolves(title, album))
        named = (
            f"the artist files of this import ({', '.join(names)}) name it for {total - left}"
            if names
            else "no artist file came with this import"
        )
        self.context.notes.append(
            f"{self.context.name}: {total} of {self.plays} play events name no artist; "
            f"{named}; {left} stay without an artist. Import Apple Music Library Tracks.json, Apple "
            "Music - Play History Daily Tracks.csv or Apple Music - Recently Played Tracks.csv from the "
            "same export to name them (artist files imported earlier are used too)."
        )


def _sibling_heads(context: ReadContext) -> Iterator[tuple[str, Opener, Head]]:
    for name, opener in context.siblings.items():
        try:
            with opener() as stream:
                data = stream.read(SNIFF_BYTES + 1)
        except OSError:
            continue
        yield name, opener, Head(name, data[:SNIFF_BYTES], complete=len(data) <= SNIFF_BYTES)


def has_play_activity(context: ReadContext) -> bool:
    return any(sniff_play_activity(head) for _, _, head in _sibling_heads(context))


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
                    for record in library_records(stream, scratch):
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
