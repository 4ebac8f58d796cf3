"""Deezer's export workbook through the loader into bronze and silver (the session PostgreSQL): loaded
once, the IP address nowhere in bronze, a workbook of the wrong kind refused, and
stg_deezer__listening_history's plays (its unit tests run by the same dbt build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.deezer.reference import SAMPLE, events, ip_addresses, plays, sheet_rows
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt

USER = "deezer-listener"


def test_listening_history_end_to_end(settings, conn, tmp_path: Path) -> None:
    expected = plays(SAMPLE)
    first = load_source(conn, USER, FileSource(SAMPLE))
    assert (first.status, first.format, first.records) == (
        "loaded",
        "deezer_listening_history_xlsx",
        len(expected),
    )
    assert "Not stored (private): IP Address." in first.notes
    assert first.inserted == len(expected)  # bronze is raw: a row written twice in one export stays twice
    assert load_source(conn, USER, FileSource(SAMPLE)).status == "already_loaded"

    with conn.cursor() as cur:
        cur.execute(
            "select count(*), count(*) filter (where row_to_json(t)::text like any(%s)) "
            "from bronze.deezer_listening_history t where user_id = %s",
            ([f"%{ip}%" for ip in ip_addresses(SAMPLE)], USER),
        )
        stored, with_ip = cur.fetchone()
    assert (stored, with_ip) == (first.inserted, 0)

    # an older export of the same account: its first 500 rows, in a workbook of its own
    older = Workbook()
    older.active.title = "10_listeningHistory"
    for row in sheet_rows(SAMPLE)[1][:500]:
        older.active.append(list(row))
    older.active.insert_rows(1)
    for column, name in enumerate(sheet_rows(SAMPLE)[0], start=1):
        older.active.cell(1, column, name)
    path = tmp_path / "deezer-data_20250101.xlsx"
    older.save(path)
    overlap = load_source(conn, USER, FileSource(path))
    assert (overlap.status, overlap.records, overlap.inserted, overlap.duplicates) == (
        "no_new_records",
        500,
        0,
        500,
    )

    book = Workbook()
    book.active.append(["Name", "Email"])
    wrong = tmp_path / "deezer-data_20240101.xlsx"
    book.save(wrong)
    with pytest.raises(ImportProblem, match="without Deezer's listening history sheet"):
        load_source(conn, USER, FileSource(wrong))

    run_dbt(settings, ["build", "--select", "stg_deezer__listening_history"])
    with conn.cursor() as cur:
        cur.execute(
            "select count(*), count(*) filter (where ms_played is null), min(ended_at), max(ended_at) "
            "from silver.stg_deezer__listening_history where user_id = %s",
            (USER,),
        )
        count, unknown, first_end, last_end = cur.fetchone()
    distinct = events(SAMPLE)
    assert count == len(distinct) < len(expected)
    assert unknown == sum(1 for e in distinct if e[3] == -1)
    assert (first_end, last_end) == (min(e[0] for e in expected), max(e[0] for e in expected))


def test_the_workbook_dropped_in_the_inbox_is_one_file(conn, settings) -> None:
    """An XLSX is a ZIP; its members are not offered one by one: the workbook is the file."""
    from tracktracker_assets.exports.inbox import drop_into_inbox, process_file

    user = "deezer-inbox"
    result = process_file(conn, settings, user, drop_into_inbox(settings, user, SAMPLE))
    assert result.ok, result.problems
    assert [(f.format, f.status, f.records) for f in result.files] == [
        ("deezer_listening_history_xlsx", "loaded", len(plays(SAMPLE)))
    ]
