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


def listen_row(listen: dict[str, msgspec.Raw], number: int, context: ReadContext) -> Row:
    """One listen (its top-level values still raw JSON) as a bronze row."""
    try:
        raw_time = listen["listened_at"]
        raw_metadata = listen["track_metadata"]
    except KeyError as exc:
        raise context.problem(f"a listen lacks {exc.args[0]}.", record=number, hint=RE_EXPORT) from None
    try:
        metadata = _any.decode(raw_metadata)
        rest = {key: _any.decode(value) for key, value in listen.items() if key not in NOT_EXTRA}
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc, record=number) from exc
    except msgspec.DecodeError as exc:
        raise context.problem(f"the listen is damaged ({exc}).", record=number, hint=RE_EXPORT) from exc
    try:
        listened_at = _epoch(_any.decode(raw_time))
    except (ValueError, OverflowError):
        raise context.problem(
            f"listened_at {bytes(raw_time).decode(errors='replace')} is no epoch time in seconds.",
            record=number,
            hint=RE_EXPORT,
        ) from None
    if (
        not isinstance(metadata, dict)
        or not _str(metadata.get("track_name"))
        or not _str(metadata.get("artist_name"))
    ):
        raise context.problem(
            "a listen's track_metadata lacks its track_name or artist_name.", record=number, hint=RE_EXPORT
        )
    info = metadata.get("additional_info") or {}
    mapping = metadata.get("mbid_mapping") or {}
    inserted = listen.get("inserted_at")
    inserted_at = _any.decode(inserted) if inserted is not None else None
    return (
        listened_at,
        _epoch(inserted_at) if isinstance(inserted_at, int | float) else None,
        # the export puts it in track_metadata, the older array and the API beside it
        _str(metadata.get("recording_msid"))
        or _str(rest.get("recording_msid"))
        or _str(info.get("recording_msid")),
        metadata["track_name"],
        metadata["artist_name"],
        _str(metadata.get("release_name")),
        _str(info.get("recording_mbid")) or _str(mapping.get("recording_mbid")),
        _str(info.get("release_mbid")) or _str(mapping.get("release_mbid")),
        _str(info.get("isrc")),
        spotify_track_id(info.get("spotify_id")) or spotify_track_id(info.get("origin_url")),
        # duration_ms, or the older duration in seconds
        _int(info.get("duration_ms")) if _int(info.get("duration_ms")) is not None
        else (_int(info["duration"]) * 1000 if _int(info.get("duration")) is not None else None),
        _int(info.get("ms_played")),
        _str(info.get("music_service")),
        _str(info.get("submission_client")),
        _str(info.get("listening_from")),
        bytes(raw_metadata).decode(),
        json_text(rest) if rest else None,
    )  # fmt: skip


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
