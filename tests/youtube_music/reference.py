"""An independent reading of Google Takeout watch histories: which entries are YouTube Music plays,
when (UTC) and which video, written from the Takeout layouts (regular expressions over the page, the
json module), not from the product's readers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import REAL_DATA

REAL = REAL_DATA / "other-platforms"


def json_plays(path: Path) -> list[tuple[datetime, str, str | None]]:
    """(UTC time, video id, artist channel) of every YouTube Music entry."""
    plays = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        if entry.get("header") != "YouTube Music":
            continue
        # milliseconds are left out when they are zero
        stamp = entry["time"].replace("Z", "+0000")
        layout = "%Y-%m-%dT%H:%M:%S.%f%z" if "." in stamp else "%Y-%m-%dT%H:%M:%S%z"
        when = datetime.strptime(stamp, layout)
        video = entry["titleUrl"].split("v=")[1].split("&")[0]
        channel = (entry.get("subtitles") or [{}])[0].get("name")
        plays.append((when.astimezone(UTC), video, channel))
    return plays


def json_headers(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        counts[entry["header"]] = counts.get(entry["header"], 0) + 1
    return counts


def _when(text: str) -> datetime:
    # en-IN pages write "Sept"; strptime knows "Sep"
    return datetime.strptime(text.replace("Sept ", "Sep "), "%d %b %Y, %H:%M:%S GMT%z").astimezone(UTC)


def html_cells(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split('<div class="outer-cell')[1:]


def html_plays(path: Path) -> list[tuple[datetime, str, str | None]]:
    plays = []
    for cell in html_cells(path):
        header = re.search(r'mdl-typography--title">([^<]*)<br>', cell).group(1)
        if header != "YouTube Music":
            continue
        body = re.search(r"mdl-typography--body-1\">(.*?)</div>", cell, re.S).group(1)
        parts = body.split("<br>")
        when = _when(parts[-2])
        video = re.search(r"watch\?v=([\w-]+)", parts[0]).group(1)
        channel = re.search(r">([^<]*)</a>", parts[1]).group(1) if len(parts) > 3 else None
        plays.append((when, video, channel))
    return plays


def html_ads(path: Path) -> int:
    return sum("From Google Ads" in cell for cell in html_cells(path))
