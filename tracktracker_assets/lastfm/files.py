"""The lastfm file formats: how each is recognised and read into bronze (exports/rowformats.py).

Every format loads into bronze.lastfm_scrobbles (readers.py). Recognised by content only: a header,
or the first JSON keys. A file re-saved as UTF-16 is still recognised, so that the reader can say
what is wrong with it instead of "unknown file".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tracktracker_assets.exports.rowformats import Head, NotHistory, Reader, RowFormat
from tracktracker_assets.lastfm import readers

UTF16 = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def head_text(head: Head) -> str:
    """The head as text, UTF-8 or (to be refused by the reader) UTF-16."""
    encoding = UTF16.get(head.data[:2])
    if encoding:
        return head.data[2:].decode(encoding, errors="replace")
    return head.text


def first_line(head: Head) -> str:
    return head_text(head).lstrip().split("\n", 1)[0].rstrip("\r")


def _is_lastfmstats_json(head: Head) -> bool:
    text = head_text(head).lstrip()
    return text.startswith("{") and '"scrobbles"' in text and '"username"' in text


def _is_lastfmstats_csv(head: Head) -> bool:
    fields = [f.strip().strip('"') for f in first_line(head).split(";")]
    return (
        len(fields) in (4, 5)
        and fields[0] == "Artist"
        and fields[1] == "Album"
        and fields[-2] == "Track"
        and fields[-1].startswith("Date")
        and (len(fields) == 4 or fields[2] == "AlbumId")
    )


def _is_ghan_csv(head: Head) -> bool:
    fields = [f.strip().strip('"') for f in first_line(head).split(",")]
    return fields == readers.GHAN_HEADER


# a data line of Last.fm to CSV ends in a date like 15 Jun 2007 22:30 (quoted or not)
_BENJAMINBENBEN_DATE = re.compile(r'"?\d{1,2} [A-Z][a-z]{2} \d{4},? \d{1,2}:\d{2}"?\s*$')


def _is_benjaminbenben_csv(head: Head) -> bool:
    lines = head_text(head).lstrip().split("\n", 2)
    line = lines[0].rstrip("\r")
    if line.lower().replace('"', "") in ("artist,album,name,date", "artist,album,track,date"):
        line = lines[1].rstrip("\r") if len(lines) > 1 else ""
    return bool(_BENJAMINBENBEN_DATE.search(line)) and line.count(",") >= 3


def _is_recent_tracks_json(head: Head) -> bool:
    text = head_text(head).lstrip()
    if '"recenttracks"' in text[:200]:
        return True
    # ghan's JSON: an array of the pages' inner objects {"track": [...], "@attr": {...}}
    return bool(re.match(r'\[\s*\{\s*"(track|@attr)"\s*:', text)) and '"#text"' in text


def _is_loved_tracks_json(head: Head) -> bool:
    return '"lovedtracks"' in head_text(head)[:200]


def _is_lastfmstats_chart_csv(head: Head) -> bool:
    fields = [f.strip().strip('"') for f in first_line(head).split(";")]
    return len(fields) >= 3 and fields[0] == "Artist" and "Scrobbles" in fields


def _fmt(name: str, description: str, sniff: Callable[[Head], bool], read: Reader) -> RowFormat:
    return RowFormat(
        name=name,
        description=description,
        service="lastfm",
        table=readers.TABLE,
        columns=readers.COLUMNS,
        time_column="scrobbled_at",
        sniff=sniff,
        read=read,
    )


FORMATS: tuple[RowFormat, ...] = (
    _fmt(
        "lastfm_lastfmstats_json",
        "Last.fm scrobbles (lastfmstats.com JSON)",
        _is_lastfmstats_json,
        readers.read_lastfmstats_json,
    ),
    _fmt(
        "lastfm_lastfmstats_csv",
        "Last.fm scrobbles (lastfmstats.com CSV)",
        _is_lastfmstats_csv,
        readers.read_lastfmstats_csv,
    ),
    _fmt("lastfm_ghan_csv", "Last.fm scrobbles (lastfm.ghan.nl CSV)", _is_ghan_csv, readers.read_ghan_csv),
    _fmt(
        "lastfm_recent_tracks_json",
        "Last.fm scrobbles (user.getRecentTracks JSON pages, lastfm.ghan.nl JSON)",
        _is_recent_tracks_json,
        readers.read_recent_tracks_json,
    ),
    _fmt(
        "lastfm_benjaminbenben_csv",
        "Last.fm scrobbles (benjaminbenben Last.fm to CSV)",
        _is_benjaminbenben_csv,
        readers.read_benjaminbenben_csv,
    ),
)

NOT_HISTORY: tuple[NotHistory, ...] = (
    NotHistory(
        what="a Last.fm loved tracks export (user.getLovedTracks)",
        hint=readers.LOVED_HINT,
        sniff=_is_loved_tracks_json,
    ),
    NotHistory(
        what="a lastfmstats.com chart export (scrobble counts per artist, album or track)",
        hint="Import the scrobbles export of lastfmstats.com (the CSV or JSON button on the user's page).",
        sniff=_is_lastfmstats_chart_csv,
    ),
)
