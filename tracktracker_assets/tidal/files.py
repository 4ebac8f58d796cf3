"""The tidal file formats: how each is recognised and read into bronze (exports/rowformats.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tracktracker_assets.exports.rowformats import NotHistory, RowFormat
from tracktracker_assets.tidal import streaming

STREAMING_CSV = RowFormat(
    name="tidal_streaming_csv",
    description="Tidal streams (personal data export streaming.csv)",
    service="tidal",
    table=streaming.TABLE,
    columns=streaming.COLUMNS,
    time_column="started_at",
    sniff=streaming.sniff,
    read=streaming.read,
    # Tidal (WiMP before it) streamed from 2010 on
    earliest=datetime(2008, 1, 1, tzinfo=UTC),
)
FORMATS: tuple[RowFormat, ...] = (STREAMING_CSV,)
NOT_HISTORY: tuple[NotHistory, ...] = ()
