"""What the two Takeout layouts (JSON and HTML) share: which entries are music plays, the video id,
the bronze row, and the report's count of what was left out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tracktracker_assets.exports.rowformats import ReadContext, Row, json_text

TABLE = "bronze.youtube_music_watch_history"
COLUMNS = ("watched_at", "title", "video_id", "channel_name", "channel_url", "title_url", "extra")
# the header of YouTube Music plays; plain YouTube entries (videos, Shorts, ads) are headed "YouTube"
MUSIC_HEADER = "YouTube Music"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")


def video_id_of(url: str | None) -> str | None:
    """The video id of a YouTube or YouTube Music watch link (`?v=`), or of a youtu.be link."""
    if not url:
        return None
    parts = urlsplit(url)
    found = parse_qs(parts.query).get("v", [None])[0]
    if found is None and parts.netloc.endswith("youtu.be"):
        found = parts.path.strip("/") or None
    return found if found and _VIDEO_ID.match(found) else None


@dataclass
class Tally:
    """Entries that are not YouTube Music plays, for the import report (they are not rows)."""

    music: int = 0
    plain: int = 0
    ads: int = 0
    other_headers: dict[str, int] = field(default_factory=dict)

    def skip(self, header: str | None, *, is_ad: bool) -> None:
        if header == "YouTube":
            self.plain += 1
            self.ads += int(is_ad)
        else:
            name = header or "(no header)"
            self.other_headers[name] = self.other_headers.get(name, 0) + 1

    def report(self, context: ReadContext) -> None:
        if self.plain:
            ads = f", {self.ads} of them Google Ads" if self.ads else ""
            context.notes.append(
                f"{self.plain} entries are plain YouTube, not YouTube Music{ads}: not counted as plays."
            )
        for header, count in sorted(self.other_headers.items()):
            context.notes.append(
                f"{count} entries of '{header}' are not YouTube Music: not counted as plays."
            )
        if not self.music:
            context.notes.append(
                "This watch history holds no YouTube Music plays (only plain YouTube): nothing to count. "
                "YouTube Music listening appears under the header 'YouTube Music' in Google Takeout."
            )


def music_row(
    watched_at: datetime,
    title: str | None,
    title_url: str | None,
    channel_name: str | None,
    channel_url: str | None,
    extra: dict[str, Any],
) -> Row:
    return (
        watched_at,
        title,
        video_id_of(title_url),
        channel_name,
        channel_url,
        title_url,
        json_text({k: v for k, v in extra.items() if v not in (None, [], {})} or None),
    )
