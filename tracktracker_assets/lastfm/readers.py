"""Readers of Last.fm scrobble exports: every format becomes rows of bronze.lastfm_scrobbles.

Last.fm itself has no export button; people use community exporters, each of which saves what
Last.fm's user.getRecentTracks returns in its own shape. Whatever the shape, a row holds the same
normalised values (UTC start time, names as Last.fm spells them, empty strings as NULL), so the same
scrobble exported by two tools is the same bronze event (dbt_project.yml `event_identity`).
Whatever a format carries beyond those columns stays in `extra`, except the Last.fm user name some
exports name the file's owner by: a privacy field (as Spotify's `username`), dropped and reported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

from tracktracker_assets.exports.rowformats import (
    BOM,
    ReadContext,
    Row,
    batched,
    decode_problem,
    json_text,
)

TABLE = "bronze.lastfm_scrobbles"
COLUMNS = (
    "scrobbled_at",
    "artist",
    "album",
    "track",
    "artist_mbid",
    "album_mbid",
    "track_mbid",
    "loved",
    "precision_ms",
    "extra",
)
SECOND_MS = 1000
MINUTE_MS = 60_000
MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES.split(), 1)}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

RE_EXPORT = "Export the scrobbles again with the same tool and import the new file unchanged."


def _none(text: str | None) -> str | None:
    """Exporters write a missing album or MBID as an empty string; bronze keeps NULL."""
    return text or None


# out-of-range epochs raise OverflowError or OSError besides ValueError
BAD_EPOCH = (ValueError, OverflowError, OSError)


def _from_epoch_s(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _from_epoch_ms(ms: int) -> datetime:
    # a float of ms / 1000 is exact to well under a microsecond for any listening date
    return datetime.fromtimestamp(ms / 1000, UTC)


def refuse_utf16(data: bytes, context: ReadContext) -> None:
    """A file re-saved as UTF-16 (Excel's "Unicode text") is recognised, then refused by name."""
    if data[:2] in UTF16_BOMS:
        raise context.problem(
            "is UTF-16 text; the exporters write UTF-8.",
            hint="Use the file exactly as the exporter delivered it, not one re-saved in another encoding.",
        )


CHUNK = 1 << 20


def text_lines(raw: IO[bytes], context: ReadContext) -> Iterator[str]:
    """The file's lines as text for csv.reader; a byte that is not UTF-8 is refused by its line.

    Read in large chunks of whole lines (the loader's stream has no fast readline) and decoded a
    chunk at a time; a decoding error is placed by counting the lines before it.
    """
    rest = b""
    before = 0  # lines in earlier chunks
    first = True
    while chunk := raw.read(CHUNK):
        if first:
            refuse_utf16(chunk, context)
            chunk = chunk.removeprefix(BOM)
            first = False
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        yield from _decoded_lines(data[:cut], before, context)
        before += data.count(b"\n", 0, cut)
    if rest:
        yield from _decoded_lines(rest, before, context)


def _decoded_lines(data: bytes, before: int, context: ReadContext) -> Iterator[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc, record=before + data.count(b"\n", 0, exc.start) + 1) from exc
    lines = text.split("\n")
    last = lines.pop()  # '' after a final newline, else the last line without one
    for line in lines:
        yield line + "\n"
    if last:
        yield last


def _no_rows(context: ReadContext, what: str) -> Exception:
    return context.problem(f"holds no scrobbles ({what}).", hint=RE_EXPORT)


# --- lastfmstats.com JSON: {"username": ..., "scrobbles": [{track, artist, album, albumId?, date}]}


class _StatsScrobble(msgspec.Struct):
    track: str | None = None
    artist: str | None = None
    album: str | None = None
    albumId: str | None = None  # the exporter's key
    date: int | float | None = None


class _StatsExport(msgspec.Struct):
    scrobbles: list[_StatsScrobble]
    username: str | None = None


def read_lastfmstats_json(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    data = raw.read()
    refuse_utf16(data, context)
    data = data.removeprefix(BOM)
    try:
        export = msgspec.json.decode(data, type=_StatsExport)
    except msgspec.ValidationError as exc:
        raise context.problem(f"is not a lastfmstats.com export as expected: {exc}.", hint=RE_EXPORT) from exc
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc) from exc
    except msgspec.DecodeError as exc:
        raise context.problem(
            f"is not complete JSON ({exc}); the file is cut short or damaged.", hint=RE_EXPORT
        ) from exc
    if not export.scrobbles:
        raise _no_rows(context, "its scrobbles list is empty")
    if export.username:
        context.dropped.add("username")
    return batched(_stats_json_rows(export.scrobbles, context))


def _stats_json_rows(scrobbles: list[_StatsScrobble], context: ReadContext) -> Iterator[Row]:
    for number, s in enumerate(scrobbles, 1):
        if s.date is None or not s.artist or not s.track:
            raise context.problem(
                "a scrobble lacks its date, artist or track.", record=number, hint=RE_EXPORT
            )
        try:
            at = _from_epoch_ms(s.date)
        except BAD_EPOCH:
            raise context.problem(
                f"the date {s.date!r} is no epoch time in milliseconds.", record=number
            ) from None
        yield (
            at,
            s.artist,
            _none(s.album),
            s.track,
            None,
            _none(s.albumId),
            None,
            None,
            SECOND_MS,
            None,
        )


# --- lastfmstats.com CSV: BOM, ';', header Artist;Album;AlbumId;Track;Date#<user> (older: no AlbumId)


def read_lastfmstats_csv(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    return batched(_stats_csv_rows(raw, context))


def _stats_csv_rows(raw: IO[bytes], context: ReadContext) -> Iterator[Row]:
    rows = csv.reader(text_lines(raw, context), delimiter=";")
    number = 1
    try:
        header = next(rows, None)
        if header is None:
            raise _no_rows(context, "the file is empty")
        width = len(header)
        has_album_id = width == 5
        user = header[-1].partition("#")[2]
        if user:  # Date#<user>: the owner's Last.fm name, private
            context.dropped.add("username")
        count = 0
        for number, row in enumerate(rows, 2):
            if not row:
                continue
            if len(row) != width:
                raise context.problem(
                    f"has {len(row)} fields where the header has {width} (a line cut short or a stray ';').",
                    record=number,
                    hint=RE_EXPORT,
                )
            if has_album_id:
                artist, album, album_id, track, date = row
            else:
                artist, album, track, date = row
                album_id = ""
            try:
                at = _from_epoch_ms(int(date))
            except BAD_EPOCH:
                raise context.problem(
                    f"the date {date!r} is no epoch time in milliseconds.", record=number, hint=RE_EXPORT
                ) from None
            count += 1
            yield (at, artist, album or None, track, None, album_id or None, None, None, SECOND_MS, None)
    except csv.Error as exc:
        raise context.problem(f"is not valid CSV ({exc}).", record=number, hint=RE_EXPORT) from exc
    if count == 0:
        raise _no_rows(context, "only a header")


# --- lastfm.ghan.nl / mainstream.ghan.nl CSV:
# uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid

GHAN_HEADER = ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]


def read_ghan_csv(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    return batched(_ghan_csv_rows(raw, context))


def _ghan_csv_rows(raw: IO[bytes], context: ReadContext) -> Iterator[Row]:
    # utc_time is uts rounded down to the minute: derivable, so not kept; uts is authoritative
    rows = csv.reader(text_lines(raw, context))
    number = 1
    count = 0
    try:
        header = [cell.strip() for cell in next(rows, [])]
        if header != GHAN_HEADER:
            raise context.problem(
                f"the header is {header}, not the ghan.nl scrobbles header {GHAN_HEADER}.",
                record=1,
                hint=RE_EXPORT,
            )
        for number, row in enumerate(rows, 2):
            if not row:
                continue
            if len(row) != 8:
                raise context.problem(
                    f"has {len(row)} fields instead of 8 (a line cut short?).", record=number, hint=RE_EXPORT
                )
            uts, _, artist, artist_mbid, album, album_mbid, track, track_mbid = row
            try:
                at = _from_epoch_s(int(uts))
            except BAD_EPOCH:
                raise context.problem(
                    f"the uts {uts!r} is no epoch time in seconds.", record=number, hint=RE_EXPORT
                ) from None
            count += 1
            yield (
                at,
                artist,
                album or None,
                track,
                artist_mbid or None,
                album_mbid or None,
                track_mbid or None,
                None,
                SECOND_MS,
                None,
            )
    except csv.Error as exc:
        raise context.problem(f"is not valid CSV ({exc}).", record=number, hint=RE_EXPORT) from exc
    if count == 0:
        raise _no_rows(context, "only a header")


# --- benjaminbenben "Last.fm to CSV": no header (or artist,album,name,date), artist,album,track,date
# where date is Last.fm's '15 Jun 2007 22:30' (the API's '15 Jun 2007, 22:30' with its comma removed,
# as the tool removes every comma and quote from values): minute precision, UTC.

BENJAMINBENBEN_HEADERS = (["artist", "album", "name", "date"], ["artist", "album", "track", "date"])


def parse_lastfm_minute(text: str) -> datetime:
    """'15 Jun 2007 22:30' or '15 Jun 2007, 22:30' (UTC) -> datetime; ValueError otherwise."""
    parts = text.replace(",", " ").split()
    if len(parts) != 4:
        raise ValueError(text)
    day, month, year, clock = parts
    hour, _, minute = clock.partition(":")
    return datetime(int(year), MONTHS[month], int(day), int(hour), int(minute), tzinfo=UTC)


def read_benjaminbenben_csv(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    context.notes.append(
        "Last.fm to CSV gives times to the minute and strips commas from names: its scrobbles match "
        "those of other Last.fm exports only approximately."
    )
    return batched(_benjaminbenben_rows(raw, context))


def _benjaminbenben_rows(raw: IO[bytes], context: ReadContext) -> Iterator[Row]:
    rows = csv.reader(text_lines(raw, context))
    number = 0
    count = 0
    try:
        for number, row in enumerate(rows, 1):
            if not row:
                continue
            if number == 1 and [cell.strip().lower() for cell in row] in BENJAMINBENBEN_HEADERS:
                continue
            if len(row) != 4:
                raise context.problem(
                    f"has {len(row)} fields instead of 4 (artist, album, track, date).",
                    record=number,
                    hint=RE_EXPORT,
                )
            artist, album, track, date = row
            try:
                at = parse_lastfm_minute(date)
            except (ValueError, KeyError):
                raise context.problem(
                    f"the date {date!r} is not like '15 Jun 2007 22:30'.", record=number, hint=RE_EXPORT
                ) from None
            count += 1
            yield (at, artist, album or None, track, None, None, None, None, MINUTE_MS, None)
    except csv.Error as exc:
        raise context.problem(f"is not valid CSV ({exc}).", record=number, hint=RE_EXPORT) from exc
    if count == 0:
        raise _no_rows(context, "no lines")


# --- raw user.getRecentTracks pages (lastfm.ghan.nl JSON, API responses saved by hand): a page
# {"recenttracks": {"track": [...] or {...}, "@attr": {...}}}, or a JSON array of pages (ghan saves
# the inner {"track": [...], "@attr": ...} of each page), with extended=1 or not.

TYPED_KEYS = {"artist", "album", "name", "mbid", "date", "loved", "@attr"}


def _pages(document: Any, context: ReadContext) -> list[dict[str, Any]]:
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise context.problem("is no Last.fm recent-tracks page nor a list of them.", hint=RE_EXPORT)
    pages = []
    for number, page in enumerate(document, 1):
        if isinstance(page, dict) and "recenttracks" in page:
            page = page["recenttracks"]
        if isinstance(page, dict) and "lovedtracks" in page:
            raise context.problem("holds loved tracks, not scrobbles.", record=number, hint=LOVED_HINT)
        if not isinstance(page, dict) or "track" not in page:
            raise context.problem(
                "is not a Last.fm recent-tracks page (no 'track' list).", record=number, hint=RE_EXPORT
            )
        pages.append(page)
    return pages


LOVED_HINT = "Import the scrobbles (recent tracks) export instead: a loved track is not a play."


def read_recent_tracks_json(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    data = raw.read()
    refuse_utf16(data, context)
    data = data.removeprefix(BOM)
    try:
        document = msgspec.json.decode(data)
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc) from exc
    except msgspec.DecodeError as exc:
        raise context.problem(
            f"is not complete JSON ({exc}); the file is cut short or damaged.", hint=RE_EXPORT
        ) from exc
    pages = _pages(document, context)
    rows = list(_recent_rows(pages, context))
    if not rows:
        raise _no_rows(context, "no track with a date")
    return batched(iter(rows))


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text", value.get("name"))
    return value if isinstance(value, str) and value else None


def _mbid(value: Any) -> str | None:
    return _none(value.get("mbid")) if isinstance(value, dict) else None


def _recent_rows(pages: list[dict[str, Any]], context: ReadContext) -> Iterator[Row]:
    number = 0
    playing = 0
    for page in pages:
        tracks = page["track"]
        if isinstance(tracks, dict):  # a page of one track: the API's JSON-from-XML gives the object
            tracks = [tracks]
        for track in tracks:
            number += 1
            if not isinstance(track, dict):
                raise context.problem("a track is not a JSON object.", record=number, hint=RE_EXPORT)
            date = track.get("date")
            if date is None:
                if (track.get("@attr") or {}).get("nowplaying") == "true":
                    playing += 1
                    continue
                raise context.problem("a track has no date.", record=number, hint=RE_EXPORT)
            if "album" not in track:
                raise context.problem(
                    "holds loved tracks (tracks without albums), not scrobbles.",
                    record=number,
                    hint=LOVED_HINT,
                )
            uts = date.get("uts") if isinstance(date, dict) else date
            try:
                at = _from_epoch_s(int(uts))
            except (TypeError, *BAD_EPOCH):
                raise context.problem(
                    f"the date {date!r} has no epoch seconds (uts).", record=number, hint=RE_EXPORT
                ) from None
            artist = track.get("artist")
            name = _text(track.get("name"))
            artist_name = _text(artist)
            if not name or not artist_name:
                raise context.problem("a track lacks its name or artist.", record=number, hint=RE_EXPORT)
            loved = track.get("loved")
            extra = {k: v for k, v in track.items() if k not in TYPED_KEYS}
            if isinstance(artist, dict):
                artist_rest = {k: v for k, v in artist.items() if k not in ("#text", "name", "mbid")}
                if artist_rest:
                    extra["artist"] = artist_rest
            yield (
                at,
                artist_name,
                _text(track.get("album")),
                name,
                _mbid(artist),
                _mbid(track.get("album")),
                _none(track.get("mbid")),
                None if loved is None else loved == "1",
                SECOND_MS,
                json_text(extra) if extra else None,
            )
    if playing:
        context.notes.append(
            f"{playing} track{'s' if playing != 1 else ''} playing at export time (no date yet) skipped: "
            "Last.fm lists a play only once it is scrobbled."
        )
