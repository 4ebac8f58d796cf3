"""Deezer's export workbook read on its own (no database): the real sample against openpyxl's reading,
privacy, and bad workbooks refused with the file and the row named."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.deezer.reference import SAMPLE, ip_addresses, plays
from tracktracker_assets.deezer.files import LISTENING_HISTORY
from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.catalogue import row_format_of
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.rowformats import Head, ReadContext

DATA = SAMPLE.read_bytes()
HEADER = [
    "Song Title", "Artist", "ISRC", "Album Title", "IP Address", "Listening Time", "Platform Name",
    "Platform Model", "Date",
]  # fmt: skip


def read_all(data: bytes, name: str = "deezer-data.xlsx") -> tuple[list[tuple], ReadContext]:
    context = ReadContext(name)
    return [row for batch in LISTENING_HISTORY.read(io.BytesIO(data), context) for row in batch], context


def workbook(tmp_path: Path, sheet: str, rows: list[list[str]]) -> bytes:
    book = Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path.read_bytes()


def test_recognised_by_content_from_its_first_bytes() -> None:
    assert row_format_of(Head("upload.bin", DATA[:4096], False)) is LISTENING_HISTORY
    head = Head("upload.bin", DATA, True)
    assert [fmt for fmt in catalogue.row_formats() if fmt.sniff(head)] == [LISTENING_HISTORY]


def test_rows_match_openpyxls_reading() -> None:
    rows, context = read_all(DATA)
    expected = plays(SAMPLE)
    assert len(rows) == len(expected) == 10738
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == expected
    # the export's quirks stay raw in bronze: -1 for an unknown listening time, the text "None"
    assert sum(1 for r in rows if r[5] == -1) == sum(1 for e in expected if e[3] == -1) > 0
    assert any(r[6] == "None" for r in rows)
    assert context.notes == []  # the sample holds the one sheet only


def test_the_ip_address_is_dropped_and_named() -> None:
    rows, context = read_all(DATA)
    assert context.dropped == {"IP Address"}
    addresses = ip_addresses(SAMPLE)
    assert addresses == {"192.0.2.1"}
    assert not any(a in str(value) for row in rows for value in row for a in addresses)


def test_a_full_export_reads_only_the_listening_sheet(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "1_account"
    book.active.append(["Email", "someone@example.org"])
    history = book.create_sheet("10_listeningHistory")
    history.append(HEADER)
    history.append(
        [
            "Song",
            "Artist",
            "FR1234567890",
            "Album",
            "203.0.113.9",
            "95",
            "ios",
            "iPhone",
            "2024-01-02 03:04:05",
        ]
    )
    path = tmp_path / "deezer-data_20240102.xlsx"
    book.save(path)
    rows, context = read_all(path.read_bytes())
    assert [(r[1], r[5], r[6]) for r in rows] == [("Song", 95, "ios")]
    assert context.notes == ["1 other sheets of the workbook (account data) were not read."]
    assert "someone@example.org" not in repr(rows) and "203.0.113.9" not in repr(rows)


def test_a_workbook_without_the_listening_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ImportProblem, match=r"without Deezer's listening history sheet .* its sheets: Sheet1"
    ):
        read_all(workbook(tmp_path, "Sheet1", [["a", "b"], ["1", "2"]]))


def test_header_only_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportProblem, match="only its header row"):
        read_all(workbook(tmp_path, "10_listeningHistory", [HEADER]))


def test_an_unparsable_date_names_the_row(tmp_path: Path) -> None:
    good = ["Song", "Artist", "FR1", "Album", "203.0.113.9", "95", "ios", "iPhone", "2024-01-02 03:04:05"]
    bad = [*good[:-1], "02/01/2024 3h04"]
    with pytest.raises(ImportProblem) as refused:
        read_all(workbook(tmp_path, "10_listeningHistory", [HEADER, good, good, bad]))
    assert refused.value.record == 4 and "Date '02/01/2024 3h04'" in str(refused.value)


@pytest.mark.parametrize("cut", [0.3, 0.9, 0.9999])
def test_a_truncated_workbook_is_refused(cut: float) -> None:
    with pytest.raises(ImportProblem, match="truncated or damaged"):
        read_all(DATA[: int(len(DATA) * cut)])


def test_an_empty_file_is_not_taken_for_a_workbook() -> None:
    assert row_format_of(Head("deezer-data.xlsx", b"", True)) is None
    with pytest.raises(ImportProblem, match="truncated or damaged"):
        read_all(b"")


def test_a_zip_holding_the_workbook_is_not_taken_for_one() -> None:
    """Only the ZIP's own members make a workbook: the workbook stored inside an export ZIP leaves the
    ZIP to the loader's ZIP handling (its members are offered one by one)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("Deezer/readme.txt", "your data")
        zf.writestr("Deezer/deezer-data_20250930.xlsx", DATA)
    data = archive.getvalue()
    assert b"xl/worksheets/" in data[: 1 << 20]  # the inner workbook's names are in the first bytes
    assert row_format_of(Head("export.zip", data[: 1 << 20], False)) is None
    assert row_format_of(Head("export.zip", data, True)) is None
