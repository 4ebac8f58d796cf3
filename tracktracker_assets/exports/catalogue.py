"""Every listening-history file format of the other services, and the files of theirs that are not
history, gathered from the service rooms (`<room>/files.py`) in the order they are tried."""

from __future__ import annotations

from functools import cache
from types import ModuleType

from tracktracker_assets.exports.rowformats import Head, NotHistory, RowFormat


def _rooms() -> tuple[ModuleType, ...]:
    """The service rooms' `files` modules, in the order their formats are tried."""
    from tracktracker_assets.apple_music import files as apple_music
    from tracktracker_assets.deezer import files as deezer
    from tracktracker_assets.lastfm import files as lastfm
    from tracktracker_assets.listenbrainz import files as listenbrainz
    from tracktracker_assets.tidal import files as tidal
    from tracktracker_assets.youtube_music import files as youtube_music

    return (apple_music, youtube_music, lastfm, listenbrainz, deezer, tidal)


@cache
def row_formats() -> tuple[RowFormat, ...]:
    formats = tuple(fmt for room in _rooms() for fmt in room.FORMATS)
    names = [fmt.name for fmt in formats]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two file formats share a name: {sorted(names)}")
    return formats


@cache
def not_history() -> tuple[NotHistory, ...]:
    return tuple(other for room in _rooms() for other in room.NOT_HISTORY)


def row_format_of(head: Head) -> RowFormat | None:
    """The first format whose test the file's first bytes pass; None if none does."""
    return next((fmt for fmt in row_formats() if fmt.sniff(head)), None)


def not_history_of(head: Head) -> NotHistory | None:
    return next((other for other in not_history() if other.sniff(head)), None)


def by_name(name: str) -> RowFormat:
    return next(fmt for fmt in row_formats() if fmt.name == name)
