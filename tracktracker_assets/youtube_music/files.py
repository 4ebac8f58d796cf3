"""The youtube music file formats: how each is recognised and read into bronze (exports/rowformats.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tracktracker_assets.exports.rowformats import NotHistory, RowFormat
from tracktracker_assets.youtube_music import takeout_html, takeout_json
from tracktracker_assets.youtube_music.entries import COLUMNS, TABLE

# YouTube Music launched in November 2015; its plays carry the "YouTube Music" header since then
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)

TAKEOUT_JSON = RowFormat(
    name="youtube_music_takeout_json",
    description="YouTube Music plays (Google Takeout watch-history.json)",
    service="youtube_music",
    table=TABLE,
    columns=COLUMNS,
    time_column="watched_at",
    sniff=takeout_json.sniff,
    read=takeout_json.read,
    earliest=EARLIEST,
)
TAKEOUT_HTML = RowFormat(
    name="youtube_music_takeout_html",
    description="YouTube Music plays (Google Takeout watch-history.html)",
    service="youtube_music",
    table=TABLE,
    columns=COLUMNS,
    time_column="watched_at",
    sniff=takeout_html.sniff,
    read=takeout_html.read,
    earliest=EARLIEST,
)
FORMATS: tuple[RowFormat, ...] = (TAKEOUT_JSON, TAKEOUT_HTML)

SEARCH_HINT = (
    "Import watch-history.json (or .html) from the same Takeout folder (YouTube and YouTube Music > "
    "history): it holds what you played."
)
NOT_HISTORY: tuple[NotHistory, ...] = (
    NotHistory(
        "a YouTube search history (search-history.json): searches, not plays",
        SEARCH_HINT,
        takeout_json.sniff_search,
    ),
    NotHistory(
        "a YouTube search history (search-history.html): searches, not plays",
        SEARCH_HINT,
        takeout_html.sniff_search,
    ),
)
