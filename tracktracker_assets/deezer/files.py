"""The deezer file formats: how each is recognised and read into bronze (exports/rowformats.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tracktracker_assets.deezer import history
from tracktracker_assets.exports.rowformats import NotHistory, RowFormat

LISTENING_HISTORY = RowFormat(
    name="deezer_listening_history_xlsx",
    description="Deezer plays (personal data export deezer-data_*.xlsx, sheet 10_listeningHistory)",
    service="deezer",
    table=history.TABLE,
    columns=history.COLUMNS,
    time_column="listened_at",
    sniff=history.sniff,
    read=history.read,
    # Deezer (Blogmusik before it) began in 2006
    earliest=datetime(2006, 1, 1, tzinfo=UTC),
)
FORMATS: tuple[RowFormat, ...] = (LISTENING_HISTORY,)
NOT_HISTORY: tuple[NotHistory, ...] = ()
