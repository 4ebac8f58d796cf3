"""The listenbrainz file formats: how each is recognised and read into bronze (exports/rowformats.py).

Recognised by content: a listen is an object with both `listened_at` and `track_metadata` (a Spotify
history array, tried first by the loader, has neither). The export ZIP's other members are refused
as not history, each saying what it is; the loader gives every ZIP member to these tests alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tracktracker_assets.exports.rowformats import Head, NotHistory, Reader, RowFormat
from tracktracker_assets.listenbrainz import readers

UTF16 = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def head_text(head: Head) -> str:
    """The head as text, UTF-8 or (to be refused by the reader) UTF-16."""
    encoding = UTF16.get(head.data[:2])
    if encoding:
        return head.data[2:].decode(encoding, errors="replace")
    return head.text


def _first_line(head: Head) -> str:
    return head_text(head).lstrip().split("\n", 1)[0]


def _is_listen(text: str) -> bool:
    return '"listened_at"' in text and '"track_metadata"' in text


def _is_jsonl(head: Head) -> bool:
    line = _first_line(head)
    return line.startswith("{") and _is_listen(line)


# the older export: a JSON array whose first element is a listen (its keys within the first record)
_ARRAY_START = re.compile(r"\[\s*\{")


def _is_json_array(head: Head) -> bool:
    text = head_text(head).lstrip()
    return bool(_ARRAY_START.match(text)) and _is_listen(text[:4000])


def _is_api_response(head: Head) -> bool:
    text = head_text(head).lstrip()
    return (
        text.startswith("{") and '"payload"' in text[:200] and '"listens"' in text and _is_listen(text[:6000])
    )


def _is_user_json(head: Head) -> bool:
    text = head_text(head).strip()
    return (
        text.startswith("{") and '"username"' in text and '"user_id"' in text and "track_metadata" not in text
    )


def _is_feedback(head: Head) -> bool:
    """feedback.jsonl of the export ZIP, or the older feedback export (a JSON array of the same)."""
    text = head_text(head).lstrip()[:2000]
    return (
        text[:1] in ("{", "[")
        and '"score"' in text
        and '"recording_msid"' in text
        and '"listened_at"' not in text
    )


def _is_pinned(head: Head) -> bool:
    line = _first_line(head)
    return line.startswith("{") and '"blurb_content"' in line and '"pinned_until"' in line


def _fmt(name: str, description: str, sniff: Callable[[Head], bool], read: Reader) -> RowFormat:
    return RowFormat(
        name=name,
        description=description,
        service="listenbrainz",
        table=readers.TABLE,
        columns=readers.COLUMNS,
        time_column="listened_at",
        sniff=sniff,
        read=read,
    )


FORMATS: tuple[RowFormat, ...] = (
    _fmt(
        "listenbrainz_export_jsonl",
        "ListenBrainz listens (export listens/<year>/<month>.jsonl)",
        _is_jsonl,
        readers.read_jsonl,
    ),
    _fmt(
        "listenbrainz_export_json",
        "ListenBrainz listens (older export, one JSON array)",
        _is_json_array,
        readers.read_json_array,
    ),
    _fmt(
        "listenbrainz_api_json",
        "ListenBrainz listens (a saved API response, GET /1/user/<name>/listens)",
        _is_api_response,
        readers.read_api_response,
    ),
)

NOT_HISTORY: tuple[NotHistory, ...] = (
    NotHistory(
        what="the account file of a ListenBrainz export (user.json: user id and name only)",
        hint="Import the whole export ZIP, or its listens/<year>/<month>.jsonl files.",
        sniff=_is_user_json,
    ),
    NotHistory(
        what="the feedback of a ListenBrainz export (loved and hated recordings, feedback.jsonl)",
        hint="Import the whole export ZIP, or its listens/<year>/<month>.jsonl files.",
        sniff=_is_feedback,
    ),
    NotHistory(
        what="the pinned recordings of a ListenBrainz export (pinned_recording.jsonl)",
        hint="Import the whole export ZIP, or its listens/<year>/<month>.jsonl files.",
        sniff=_is_pinned,
    ),
)
