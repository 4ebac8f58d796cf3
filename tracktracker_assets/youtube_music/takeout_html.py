"""Google Takeout `watch-history.html`: the same activity as the JSON, as a page of "outer cells".

Each entry is a `div.outer-cell` holding a header (`p.mdl-typography--title`: "YouTube" or "YouTube
Music"), a content cell whose lines (split by <br>) are "Watched <a href=video>title</a>",
"<a href=channel>channel</a>" (absent for removed videos) and the local time, and a caption cell
(products, "Details: From Google Ads", why it is there). Pages are tens of MB: the standard library's
incremental HTMLParser is fed 64 KiB at a time and entries leave as soon as their cell closes, so
memory stays bounded by one entry.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import IO

from tracktracker_assets.exports.rowformats import Head, ReadContext, Row, batched
from tracktracker_assets.youtube_music.dates import UnknownLayout, parse_local_time
from tracktracker_assets.youtube_music.entries import MUSIC_HEADER, Tally, music_row

CHUNK = 1 << 16
HINT = (
    "Use watch-history.html from Google Takeout (YouTube and YouTube Music > history) exactly as "
    "downloaded, or export the history as JSON instead."
)


def _activity_page(head: Head) -> bool:
    return head.starts_with(b"<html", b"<!DOCTYPE", b"<!doctype") and "outer-cell" in head.text


def sniff(head: Head) -> bool:
    text = head.text
    return _activity_page(head) and ("YouTube" in text) and not _is_search(text)


def _is_search(text: str) -> bool:
    return bool(re.search(r"Searched for(?:&nbsp;|\s|\u00a0)", text)) and not re.search(
        r"Watched(?:&nbsp;|\s|\u00a0)", text
    )


def sniff_search(head: Head) -> bool:
    return _activity_page(head) and _is_search(head.text)


@dataclass
class Entry:
    number: int
    header: list[str] = field(default_factory=list)
    # the content cell's lines: each a list of (text, href or None) pieces
    lines: list[list[tuple[str, str | None]]] = field(default_factory=lambda: [[]])
    caption: list[tuple[str, bool]] = field(default_factory=list)  # (text, is a <b> label)


class _Page(HTMLParser):
    """Collects complete entries into `done` as the page streams through."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.done: list[Entry] = []
        self.count = 0
        self.finished = False  # saw </html>
        self._depth = 0
        self._entry: Entry | None = None
        self._entry_depth = 0
        self._part: str | None = None  # header | content | caption
        self._part_depth = 0
        self._content_seen = False
        self._href: str | None = None
        self._bold = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            self._depth += 1
            classes = (dict(attrs).get("class") or "").split()
            if "outer-cell" in classes and self._entry is None:
                self.count += 1
                self._entry = Entry(self.count)
                self._entry_depth = self._depth
                self._content_seen = False
            elif self._entry is not None and self._part is None:
                if "header-cell" in classes:
                    self._part = "header"
                elif "mdl-typography--caption" in classes:
                    self._part = "caption"
                elif "content-cell" in classes and not self._content_seen:
                    self._part = "content"
                    self._content_seen = True
                if self._part:
                    self._part_depth = self._depth
        elif tag == "br" and self._part == "content" and self._entry is not None:
            self._entry.lines.append([])
        elif tag == "a":
            self._href = dict(attrs).get("href")
        elif tag == "b":
            self._bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None
        elif tag == "b":
            self._bold = False
        elif tag == "html":
            self.finished = True
        elif tag == "div":
            if self._part and self._depth == self._part_depth:
                self._part = None
            if self._entry is not None and self._depth == self._entry_depth:
                self.done.append(self._entry)
                self._entry = None
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._entry is None or self._part is None:
            return
        if self._part == "header":
            self._entry.header.append(data)
        elif self._part == "caption":
            self._entry.caption.append((data, self._bold))
        else:
            self._entry.lines[-1].append((data, self._href))

    @property
    def inside(self) -> int | None:
        return self._entry.number if self._entry else None


def _clean(text: str) -> str:
    return re.sub(r"[\s\u00a0\u2003]+", " ", text).strip()


def _row(entry: Entry, context: ReadContext, tally: Tally) -> Row | None:
    header = _clean("".join(entry.header)) or None
    caption = [(_clean(t), bold) for t, bold in entry.caption if _clean(t)]
    if header != MUSIC_HEADER:
        tally.skip(header, is_ad=("From Google Ads", False) in caption)
        return None
    lines = [[(t, h) for t, h in line if t.strip() or h] for line in entry.lines]
    lines = [line for line in lines if line]
    if not lines:
        raise context.problem("this YouTube Music entry has no lines.", record=entry.number, hint=HINT)
    time_text = _clean("".join(t for t, _ in lines[-1]))
    try:
        watched_at = parse_local_time(time_text)
    except UnknownLayout as exc:
        raise context.problem(
            f"the time of this YouTube Music entry: {exc}.",
            record=entry.number,
            hint="Takeout's English date layouts are read ('8 Dec 2025, 19:47:35 GMT+05:30', "
            "'Dec 8, 2025, 7:47:35 PM EST'); export the history as JSON (its times are UTC) instead.",
        ) from None
    title_line = lines[0] if len(lines) > 1 else []
    # the title as the page gives it, "Watched\u00a0" prefix included (staging strips it)
    title = "".join(t for t, _ in title_line) or None
    title_url = next((h for _, h in title_line if h), None)
    channel_line = lines[1] if len(lines) > 2 else []
    channel_name = "".join(t for t, _ in channel_line).strip() or None
    channel_url = next((h for _, h in channel_line if h), None)
    tally.music += 1
    products, details, label = [], [], None
    # captions: "<b>Products:</b> YouTube <b>Details:</b> From Google Ads <b>Why is this here?</b> …"
    for text, bold in caption:
        if bold:
            label = text
        elif label == "Products:":
            products.append(text)
        elif label == "Details:":
            details.append(text)
    extra = {"time_text": time_text, "products": products, "details": details}
    return music_row(watched_at, title, title_url, channel_name, channel_url, extra)


def read(stream: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    page = _Page()
    tally = Tally()

    def rows() -> Iterator[Row]:
        offset = 0
        while True:
            chunk = stream.read(CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise context.problem(
                    f"not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x} near byte "
                    f"{offset + exc.start}).",
                    record=page.count or 1,
                    hint="Use the file exactly as Google Takeout delivered it.",
                ) from None
            offset += len(chunk)
            page.feed(text)
            for entry in page.done:
                row = _row(entry, context, tally)
                if row is not None:
                    yield row
            page.done.clear()
            if not chunk:
                break
        page.close()
        if page.inside is not None or not page.finished:
            raise context.problem(
                "the page stops before its end: the file is truncated.",
                record=page.inside or page.count or None,
                hint=HINT,
            )
        if not page.count:
            raise context.problem("holds no watch-history entries.", hint=HINT)

    yield from batched(rows())
    tally.report(context)
