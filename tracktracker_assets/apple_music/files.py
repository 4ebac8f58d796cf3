"""The apple music file formats: how each is recognised and read into bronze (exports/rowformats.py).

The library alone is refused by its reader (hints.read_library), not here: whether it is history
depends on the other files of the import, which a NotHistory test on the first bytes cannot see.
"""

from __future__ import annotations

from tracktracker_assets.apple_music.hints import DAILY_TRACKS, LIBRARY_TRACKS, RECENTLY_PLAYED
from tracktracker_assets.apple_music.play_activity import PLAY_ACTIVITY
from tracktracker_assets.apple_music.track_play_history import TRACK_PLAY_HISTORY
from tracktracker_assets.exports.rowformats import NotHistory, RowFormat

FORMATS: tuple[RowFormat, ...] = (
    PLAY_ACTIVITY,
    TRACK_PLAY_HISTORY,
    DAILY_TRACKS,
    RECENTLY_PLAYED,
    LIBRARY_TRACKS,
)
NOT_HISTORY: tuple[NotHistory, ...] = ()
