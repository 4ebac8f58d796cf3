"""The youtube music file formats: how each is recognised and read into bronze (exports/rowformats.py)."""

from __future__ import annotations

from tracktracker_assets.exports.rowformats import NotHistory, RowFormat

FORMATS: tuple[RowFormat, ...] = ()
NOT_HISTORY: tuple[NotHistory, ...] = ()
