"""Google Takeout `watch-history.json`: a JSON array of activity entries, one per thing watched.

YouTube Music plays are the entries whose `header` is "YouTube Music" (title "Watched <track>",
`subtitles[0].name` "<Artist> - Topic", `time` ISO 8601 UTC with milliseconds); everything else
(plain YouTube videos, Google Ads) is counted in the report, not loaded. Takeout files are at most
tens of MB, so the array is decoded at once (msgspec, C).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

from tracktracker_assets.exports.rowformats import Head, ReadContext, Row, batched, decode_problem
from tracktracker_assets.youtube_music.entries import MUSIC_HEADER, Tally, music_row

_YOUTUBE_HEADER = re.compile(r'"header"\s*:\s*"YouTube')
# a search history has the same shape; its entries say "Searched for …" under "YouTube search history"
_SEARCH = re.compile(r'"title"\s*:\s*"Searched for |YouTube search history')
_WATCH = re.compile(r'"title"\s*:\s*"Watched |YouTube watch history')
HINT = (
    "Use watch-history.json from Google Takeout (YouTube and YouTube Music > history) exactly as downloaded."
)


def _activity_json(head: Head) -> bool:
    return head.starts_with(b"[") and bool(_YOUTUBE_HEADER.search(head.text)) and '"time"' in head.text


def sniff(head: Head) -> bool:
    return _activity_json(head) and not (_SEARCH.search(head.text) and not _WATCH.search(head.text))


def sniff_search(head: Head) -> bool:
    return _activity_json(head) and bool(_SEARCH.search(head.text)) and not _WATCH.search(head.text)


def _text(entry: dict[str, Any], key: str, context: ReadContext, number: int) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise context.problem(f"the entry's '{key}' is not text.", record=number, hint=HINT)
    return value


def _time(entry: dict[str, Any], context: ReadContext, number: int) -> datetime:
    raw = entry.get("time")
    try:
        stamp = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise context.problem(
            f"the entry has no valid time ({raw!r}; expected ISO 8601 like 2022-04-25T18:09:04.784Z).",
            record=number,
            hint=HINT,
        )
    return stamp.astimezone(UTC)


def _rows(entries: list[Any], context: ReadContext, tally: Tally) -> Iterator[Row]:
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise context.problem("the entry is not a JSON object.", record=number, hint=HINT)
        header = entry.get("header")
        if header != MUSIC_HEADER:
            details = entry.get("details") or []
            is_ad = any(isinstance(d, dict) and d.get("name") == "From Google Ads" for d in details)
            tally.skip(header if isinstance(header, str) else None, is_ad=is_ad)
            continue
        watched_at = _time(entry, context, number)
        subtitles = entry.get("subtitles") or []
        if not isinstance(subtitles, list) or not all(isinstance(s, dict) for s in subtitles):
            raise context.problem("the entry's 'subtitles' is not a list of objects.", record=number)
        channel = subtitles[0] if subtitles else {}
        tally.music += 1
        known = {"header", "title", "titleUrl", "subtitles", "time"}
        extra = {k: v for k, v in entry.items() if k not in known}
        if len(subtitles) > 1:
            extra["subtitles"] = subtitles[1:]
        yield music_row(
            watched_at,
            _text(entry, "title", context, number),
            _text(entry, "titleUrl", context, number),
            channel.get("name"),
            channel.get("url"),
            extra,
        )


def read(stream: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    data = stream.read()
    try:
        entries = msgspec.json.decode(data)
    except UnicodeDecodeError as exc:
        raise decode_problem(context, exc) from None
    except msgspec.DecodeError as exc:
        raise context.problem(
            f"not valid JSON ({exc}): the file is damaged or truncated.", hint=HINT
        ) from None
    if not isinstance(entries, list):
        raise context.problem("is not a JSON array of watch-history entries.", hint=HINT)
    if not entries:
        raise context.problem("holds no watch-history entries.", hint=HINT)
    tally = Tally()
    yield from batched(_rows(entries, context, tally))
    tally.report(context)
