"""An independent reading of Deezer's export workbook with openpyxl (a different XLSX reader from the
product's): the listening history sheet's rows as the export's layout describes them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import REAL_DATA

REAL = REAL_DATA / "other-platforms"
SAMPLE = REAL / "MarionBml--deezer-data_20250930.xlsx"


@cache  # one reading per session: openpyxl takes seconds over 10,000 rows
def sheet_rows(path: Path) -> tuple[list[str], list[tuple]]:
    book = load_workbook(path, read_only=True)
    sheet = book["10_listeningHistory"]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    return list(rows[0]), [r for r in rows[1:] if any(v not in (None, "") for v in r)]


def plays(path: Path) -> list[tuple[datetime, str | None, str | None, int]]:
    """(UTC end, title, ISRC, seconds or -1) per row, in sheet order."""
    header, rows = sheet_rows(path)
    at = {name: header.index(name) for name in header}
    return [
        (
            datetime.strptime(r[at["Date"]], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
            r[at["Song Title"]],
            r[at["ISRC"]],
            int(r[at["Listening Time"]]),
        )
        for r in rows
    ]


def ip_addresses(path: Path) -> set[str]:
    header, rows = sheet_rows(path)
    return {r[header.index("IP Address")] for r in rows if r[header.index("IP Address")]}


def events(path: Path) -> set[tuple]:
    """Distinct listening events, (UTC end text, title, artist, seconds or -1): rows agreeing on time,
    title and artist (case and spaces aside) are one play written twice, under one or two catalog
    entries of the song (another ISRC or album); it lasted as long as its longest row."""
    header, rows = sheet_rows(path)
    at = {n: header.index(n) for n in ("Date", "Song Title", "Artist", "Listening Time")}
    longest: dict[tuple, int] = {}
    for r in rows:
        key = (r[at["Date"]], _norm(r[at["Song Title"]]), _norm(r[at["Artist"]]))
        longest[key] = max(longest.get(key, -1), int(r[at["Listening Time"]]))
    return {(*key, seconds) for key, seconds in longest.items()}


def _norm(name: str | None) -> str:
    return " ".join((name if name not in (None, "None") else "").split()).lower()
