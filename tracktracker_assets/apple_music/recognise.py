"""How each Apple Music file is recognised: by its CSV header or its JSON keys, never by its name."""

from __future__ import annotations

from datetime import UTC, datetime

from tracktracker_assets.apple_music.csvfiles import header_of
from tracktracker_assets.exports.rowformats import Head

# iTunes (whose library and play history Apple Music carries on) began in January 2001
ITUNES_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
SNIFF_BYTES = 64 * 1024
TRACK_PLAY_HISTORY_HEADER = ["Track Name", "Last Played Date", "Is User Initiated"]


def sniff_play_activity(head: Head) -> bool:
    header = set(header_of(head))
    return {"Event End Timestamp", "Play Duration Milliseconds"} <= header and bool(
        header & {"Song Name", "Content Name"}
    )


def sniff_track_play_history(head: Head) -> bool:
    return header_of(head) == TRACK_PLAY_HISTORY_HEADER


def sniff_daily(head: Head) -> bool:
    return {"Date Played", "Track Description", "Play Duration Milliseconds"} <= set(header_of(head))


def sniff_recent(head: Head) -> bool:
    return {"Last Modified", "Track Description", "Container Description"} <= set(header_of(head))


def sniff_library(head: Head) -> bool:
    body = head.text
    return head.starts_with(b"[") and '"Track Identifier"' in body and '"Content Type"' in body
