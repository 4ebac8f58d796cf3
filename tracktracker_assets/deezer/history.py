"""Deezer's personal data export `deezer-data_<date>.xlsx`: its sheet 10_listeningHistory.

The workbook's other sheets (identity, e-mail, payments, devices) are never opened. The sheet's
columns: Song Title, Artist, ISRC, Album Title, IP Address, Listening Time, Platform Name, Platform
Model, Date. Every cell is an inline string (the export is written by openpyxl): Listening Time is
seconds as text, -1 when Deezer does not know it; missing values are the text "None" or an empty
cell; rows are in no time order.

Time rule: Date ("YYYY-MM-DD HH:MM:SS", second precision, no zone) is when the play ENDED (Deezer
logs a listen when the track stops, like Spotify) and is read as UTC: Deezer's API returns the same
history as Unix timestamps and its export writes them without any zone conversion for the account's
country. (Unverified against an export of a known listening time; stg_deezer__listening_history is the
one place to change if a listener's plays turn out shifted.)

Privacy: IP Address is never kept.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO
from xml.etree.ElementTree import ParseError as ElementTreeError

from tracktracker_assets.deezer.workbook import WorkbookError, open_workbook, rows, sheet_names
from tracktracker_assets.exports.rowformats import Head, ReadContext, Row, batched, json_text

TABLE = "bronze.deezer_listening_history"
COLUMNS = (
    "listened_at",
    "song_title",
    "artist",
    "isrc",
    "album_title",
    "listening_time_s",
    "platform_name",
    "platform_model",
    "extra",
)
SHEET = re.compile(r"^(\d+_)?listeninghistory$", re.IGNORECASE)
HEADER = {
    "Song Title": "song_title",
    "Artist": "artist",
    "ISRC": "isrc",
    "Album Title": "album_title",
    "Listening Time": "listening_time_s",
    "Platform Name": "platform_name",
    "Platform Model": "platform_model",
    "Date": "listened_at",
}
PRIVATE = {"IP Address"}
REQUIRED = ("Song Title", "Artist", "Date")
HINT = "Use the deezer-data_*.xlsx file of Deezer's 'My personal data' export exactly as downloaded."
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")
EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)


def sniff(head: Head) -> bool:
    """An XLSX (a ZIP whose own members are under xl/): the reader checks for the listening sheet.

    Only the workbook's own member names count, so a ZIP that merely holds workbooks among its files
    (a service's whole export) is not taken for one.
    """
    if not head.data.startswith(b"PK\x03\x04"):
        return False
    if head.complete:
        try:
            names = zipfile.ZipFile(io.BytesIO(head.data)).namelist()
        except zipfile.BadZipFile:
            return False
        return "xl/workbook.xml" in names
    names, walked = _leading_members(head.data)
    if any(name.startswith(b"xl/") for name in names):
        return True
    # a writer that streams (sizes after the data) stops the walk: its first member must be OOXML's
    return not walked and bool(names) and names[0] == b"[Content_Types].xml" and b"xl/" in head.data


def _leading_members(data: bytes) -> tuple[list[bytes], bool]:
    """Member names from the ZIP's local headers within `data`, and whether the walk ran to its end
    (False when a member's size is only given after its data)."""
    names: list[bytes] = []
    at = 0
    while data[at : at + 4] == b"PK\x03\x04" and at + 30 <= len(data):
        flags, size, name_length, extra_length = struct.unpack_from("<H10xI4xHH", data, at + 6)
        names.append(data[at + 30 : at + 30 + name_length])
        if flags & 0x08 and size == 0:
            return names, False
        at += 30 + name_length + extra_length + size
    return names, True


def _listened_at(text: str | None, context: ReadContext, number: int) -> datetime:
    found = _DATE.match((text or "").strip())
    try:
        if found:
            return datetime(*map(int, found.groups()), tzinfo=UTC)
        # a workbook re-saved by a spreadsheet program may hold the date as an Excel serial number
        return EXCEL_EPOCH + timedelta(days=float(text or ""))
    except (ValueError, OverflowError):
        raise context.problem(
            f"row {number} has Date '{text}', not a date like 2025-09-13 09:57:22.",
            record=number,
            hint=HINT,
        ) from None


def _seconds(text: str | None, context: ReadContext, number: int) -> int | None:
    if text is None or text.strip() in ("", "None"):
        return None
    try:
        return int(float(text))
    except ValueError:
        raise context.problem(
            f"row {number} has Listening Time '{text}', not a number of seconds.", record=number, hint=HINT
        ) from None


def _rows(book: zipfile.ZipFile, context: ReadContext) -> Iterator[Row]:
    sheets = sheet_names(book)
    listening = [name for name in sheets if SHEET.match(name)]
    if not listening:
        raise context.problem(
            "is an Excel workbook without Deezer's listening history sheet (10_listeningHistory); "
            f"its sheets: {', '.join(sheets) or 'none'}.",
            hint=HINT,
        )
    others = len(sheets) - 1
    if others:
        context.notes.append(f"{others} other sheets of the workbook (account data) were not read.")
    records = rows(book, sheets[listening[0]])
    header_row = next(records, None)
    if header_row is None:
        raise context.problem("its listening history sheet is empty.", hint=HINT)
    header = [(cell or "").strip() for cell in header_row[1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise context.problem(
            f"its listening history sheet has no column {', '.join(missing)} (row {header_row[0]}).",
            record=header_row[0],
            hint=HINT,
        )
    context.dropped.update(c for c in header if c in PRIVATE)
    count = 0
    for number, cells in records:
        if not any((c or "").strip() for c in cells):
            continue
        count += 1
        values = dict(zip(header, cells, strict=False))
        typed = {HEADER[k]: v for k, v in values.items() if k in HEADER}
        extra = {
            k: v for k, v in values.items() if k and k not in HEADER and k not in PRIVATE and v is not None
        }
        yield (
            _listened_at(typed.get("listened_at"), context, number),
            typed.get("song_title"),
            typed.get("artist"),
            typed.get("isrc"),
            typed.get("album_title"),
            _seconds(typed.get("listening_time_s"), context, number),
            typed.get("platform_name"),
            typed.get("platform_model"),
            json_text(extra or None),
        )
    if not count:
        raise context.problem("its listening history sheet holds only its header row: no plays.", hint=HINT)


def read(stream: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    # zipfile needs to seek (its directory is at the end); the loader's streams may not
    source = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        with open_workbook(source) as book:
            yield from batched(_rows(book, context))
    except WorkbookError as exc:
        raise context.problem(f"{exc}.", hint=HINT) from None
    except (zipfile.BadZipFile, EOFError, ElementTreeError) as exc:
        raise context.problem(f"is no complete XLSX file: truncated or damaged ({exc}).", hint=HINT) from None
