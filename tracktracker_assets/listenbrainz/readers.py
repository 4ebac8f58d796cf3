"""Readers of ListenBrainz user exports: every listen becomes a row of bronze.listenbrainz_listens.

Two vintages: the export ZIP (since 2025) holds `listens/<YYYY>/<M>.jsonl`, one listen per line
({listened_at, inserted_at, track_metadata{..., mbid_mapping, additional_info}}), beside `user.json`,
`feedback.jsonl` and `pinned_recording.jsonl`; the older export was one JSON array of listens
({listened_at, recording_msid, user_name, track_metadata}). `track_metadata` is kept exactly as
received (jsonb); the columns beside it are the values silver needs, taken out of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import msgspec

from tracktracker_assets.exports.rowformats import BOM, ReadContext, Row, batched, decode_problem, json_text

TABLE = "bronze.listenbrainz_listens"
COLUMNS = (
    "listened_at",
    "inserted_at",
    "recording_msid",
    "track_name",
    "artist_name",
    "release_name",
    "recording_mbid",
    "release_mbid",
    "isrc",
    "spotify_track_id",
    "duration_ms",
    "ms_played",
    "music_service",
    "submission_client",
    "listening_from",
    "track_metadata",
    "extra",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RE_EXPORT = (
    "Download the export again (ListenBrainz > Settings > Export) and import the ZIP or its files unchanged."
)
SPOTIFY_TRACK = "https://open.spotify.com/track/"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_top = msgspec.json.Decoder(dict[str, msgspec.Raw])
_listens = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])


class _Payload(msgspec.Struct):
    listens: list[dict[str, msgspec.Raw]]


class _ApiResponse(msgspec.Struct):
    payload: _Payload


_api = msgspec.json.Decoder(_ApiResponse)
_any = msgspec.json.Decoder()


def _refuse_utf16(data: bytes, context: ReadContext) -> None:
    if data[:2] in UTF16_BOMS:
        raise context.problem(
            "is UTF-16 text; ListenBrainz writes UTF-8.",
            hint="Use the file exactly as ListenBrainz delivered it, not one re-saved in another encoding.",
        )


def _epoch(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(value)
    # export lines give int seconds, but PostgreSQL's extract(epoch) may write fractions
    return EPOCH + timedelta(seconds=value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def spotify_track_id(value: Any) -> str | None:
    """'https://open.spotify.com/track/<id>' or 'spotify:track:<id>' -> the bare id."""
    text = _str(value)
    if text is None:
        return None
    for prefix in (SPOTIFY_TRACK, "spotify:track:"):
        if text.startswith(prefix):
            return text[len(prefix) :].split("?", 1)[0] or None
    return None


NOT_EXTRA = ("listened_at", "inserted_at", "track_metadata")
# the account a listen belongs to (older exports and API responses name it on every listen): private,
# as Spotify's username is; the listener is the TrackTracker user the file is imported for
PRIVACY_FIELDS = frozenset({"user_name", "user_id"})


class _Info(msgspec.Struct):
    """The additional_info fields bronze types; the rest stays in track_metadata. Values are Any: a
    submitter may write a number as text, and one odd value must not refuse a whole export."""

    recording_mbid: Any = None
    release_mbid: Any = None
    recording_msid: Any = None
    isrc: Any = None
    spotify_id: Any = None
    origin_url: Any = None
    duration_ms: Any = None
    duration: Any = None
    ms_played: Any = None
    music_service: Any = None
    submission_client: Any = None
    listening_from: Any = None


class _Mapping(msgspec.Struct):
    recording_mbid: Any = None
    release_mbid: Any = None


class _Metadata(msgspec.Struct):
    track_name: Any = None
    artist_name: Any = None
    release_name: Any = None
    recording_msid: Any = None
    additional_info: _Info | None = None
    mbid_mapping: _Mapping | None = None


_metadata = msgspec.json.Decoder(_Metadata)
NO_INFO = _Info()
NO_MAPPING = _Mapping()


def _duration_ms(info: _Info) -> int | None:
    """duration_ms, or the older duration in seconds."""
    if (ms := _int(info.duration_ms)) is not None:
        return ms
    seconds = _int(info.duration)
    return None if seconds is None else seconds * 1000


def listen_row(listen: dict[str, msgspec.Raw], number: int, context: ReadContext) -> Row:
    """One listen (its top-level values still raw JSON) as a bronze row."""
    try:
        raw_time = listen["listened_at"]
        raw_metadata = listen["track_metadata"]
    except KeyError as exc:
        raise context.problem(f"a listen lacks {exc.args[0]}.", record=number, hint=RE_EXPORT) from None
    try:
        # as received, for the jsonb column; decoding it also proves it UTF-8
        metadata_text = bytes(raw_metadata).decode()
        metadata = _metadata.decode(raw_metadata)
        rest = {
            key: _any.decode(value)
            for key, value in listen.items()
            if key not in NOT_EXTRA and key not in PRIVACY_FIELDS
        }
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc, record=number) from exc
    except msgspec.DecodeError as exc:  # ValidationError included: track_metadata is no object
        raise context.problem(f"the listen is damaged ({exc}).", record=number, hint=RE_EXPORT) from exc
    if "user_name" in listen or "user_id" in listen:
        context.dropped.update(PRIVACY_FIELDS.intersection(listen))
    try:
        listened_at = _epoch(_any.decode(raw_time))
    except (ValueError, OverflowError):
        raise context.problem(
            f"listened_at {bytes(raw_time).decode(errors='replace')} is no epoch time in seconds.",
            record=number,
            hint=RE_EXPORT,
        ) from None
    track_name, artist_name = _str(metadata.track_name), _str(metadata.artist_name)
    if not track_name or not artist_name:
        raise context.problem(
            "a listen's track_metadata lacks its track_name or artist_name.", record=number, hint=RE_EXPORT
        )
    info = metadata.additional_info or NO_INFO
    mapping = metadata.mbid_mapping or NO_MAPPING
    inserted = listen.get("inserted_at")
    inserted_at = _any.decode(inserted) if inserted is not None else None
    return (
        listened_at,
        # the older export writes 0 for "not known"
        _epoch(inserted_at) if isinstance(inserted_at, int | float) and inserted_at > 0 else None,
        # the export puts it in track_metadata, the older array and the API beside it
        _str(metadata.recording_msid) or _str(rest.get("recording_msid")) or _str(info.recording_msid),
        track_name,
        artist_name,
        _str(metadata.release_name),
        _str(info.recording_mbid) or _str(mapping.recording_mbid),
        _str(info.release_mbid) or _str(mapping.release_mbid),
        _str(info.isrc),
        spotify_track_id(info.spotify_id) or spotify_track_id(info.origin_url),
        _duration_ms(info),
        _int(info.ms_played),
        _str(info.music_service),
        _str(info.submission_client),
        _str(info.listening_from),
        metadata_text,
        json_text(rest) if rest else None,
    )


def read_jsonl(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    data = raw.read()
    _refuse_utf16(data, context)
    return batched(_jsonl_rows(data.removeprefix(BOM), context))


def _jsonl_rows(data: bytes, context: ReadContext) -> Iterator[Row]:
    count = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            listen = _top.decode(line)
        except msgspec.DecodeError as exc:
            raise context.problem(
                f"line {number} is not a complete JSON object ({exc}): the file is cut short, damaged"
                " or not UTF-8.",
                record=number,
                hint=RE_EXPORT,
            ) from exc
        count += 1
        yield listen_row(listen, number, context)
    if count == 0:
        raise context.problem("holds no listens.", hint=RE_EXPORT)


def read_json_array(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    return _read_listens(raw, context, _listens.decode)


def read_api_response(raw: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    """A saved GET /1/user/<name>/listens response: {payload: {count, listens: [...], ...}}."""
    return _read_listens(raw, context, lambda data: _api.decode(data).payload.listens)


def _read_listens(raw: IO[bytes], context: ReadContext, decode: Any) -> Iterator[list[Row]]:
    data = raw.read()
    _refuse_utf16(data, context)
    try:
        listens = decode(data.removeprefix(BOM))
    except msgspec.ValidationError as exc:
        raise context.problem(f"is not a list of ListenBrainz listens ({exc}).", hint=RE_EXPORT) from exc
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc) from exc
    except msgspec.DecodeError as exc:
        raise context.problem(
            f"is not complete JSON ({exc}): the file is cut short, damaged or not UTF-8.", hint=RE_EXPORT
        ) from exc
    if not listens:
        raise context.problem("holds no listens (an empty list).", hint=RE_EXPORT)
    return batched(listen_row(listen, number, context) for number, listen in enumerate(listens, 1))
