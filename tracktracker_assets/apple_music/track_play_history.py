"""Apple Music - Track Play History.csv: one row per play, "Artist - Title" and a time in epoch ms.

Apple often writes a play twice, once with Is User Initiated false and once true at the identical
millisecond. Bronze keeps both rows as received; staging (stg_apple_music__track_play_history)
counts the play once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from tracktracker_assets.apple_music import csvfiles
from tracktracker_assets.apple_music.csvfiles import Record, boolean, integer, text
from tracktracker_assets.apple_music.recognise import ITUNES_EPOCH, sniff_track_play_history
from tracktracker_assets.exports.rowformats import ReadContext, Row, RowFormat, batched

COLUMNS = ("played_at", "track_name", "is_user_initiated")


def read(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    return batched(_row(r, context) for r in csvfiles.records(raw, context, "Apple Music Track Play History"))


def _row(record: Record, context: ReadContext) -> Row:
    millis = integer(record, "Last Played Date", context)
    if millis is None:
        raise context.problem(
            f"line {record.line} has no Last Played Date.", record=record.number, hint=csvfiles.AS_DELIVERED
        )
    try:
        played_at = datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        raise context.problem(
            f"line {record.line}: Last Played Date {millis} is no time in milliseconds since 1970.",
            record=record.number,
            hint=csvfiles.AS_DELIVERED,
        ) from None
    return (played_at, text(record, "Track Name"), boolean(record, "Is User Initiated"))


TRACK_PLAY_HISTORY = RowFormat(
    name="apple_music_track_play_history_csv",
    description="Apple Music plays with artist and title (Apple Music - Track Play History.csv)",
    service="apple_music",
    table="bronze.apple_music_track_play_history",
    columns=COLUMNS,
    time_column="played_at",
    sniff=sniff_track_play_history,
    read=read,
    earliest=ITUNES_EPOCH,
)
