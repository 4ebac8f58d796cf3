"""Tidal's streaming.csv through the loader into bronze and silver (the session PostgreSQL): refused
whole for one bad row, loaded once however often or in how many overlapping exports it comes, no
private field stored, and stg_tidal__streaming's plays (its unit tests run by the same dbt build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tidal.reference import SAMPLE, private_values, streams, without_line
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt

USER = "tidal-listener"
TEXT = SAMPLE.read_text(encoding="utf-8")
VALID = without_line(TEXT, "not-a-date")


def bronze_rows(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("select row_to_json(t)::text from bronze.tidal_streaming t where user_id = %s", (USER,))
        return [r[0] for r in cur.fetchall()]


def test_streaming_csv_end_to_end(settings, conn, tmp_path: Path) -> None:
    with pytest.raises(ImportProblem, match=r"record 5: line 6 has entry_date 'not-a-date'"):
        load_source(conn, USER, FileSource(SAMPLE))
    assert bronze_rows(conn) == []

    valid = tmp_path / "streaming.csv"
    valid.write_text(VALID, encoding="utf-8")
    first = load_source(conn, USER, FileSource(valid))
    assert (first.status, first.format, first.records, first.inserted) == (
        "loaded",
        "tidal_streaming_csv",
        30,
        30,
    )
    assert "Not stored (private): city_name, ip_address, postal_code, region_name." in first.notes
    assert any("read as UTC" in note for note in first.notes)

    again = load_source(conn, USER, FileSource(valid))
    assert again.status == "already_loaded"
    # an earlier export of the same account: its first 20 streams, bytes of its own
    older = tmp_path / "streaming-2025.csv"
    older.write_text("".join(VALID.splitlines(keepends=True)[:21]).replace("\n", "\r\n"), encoding="utf-8")
    overlap = load_source(conn, USER, FileSource(older))
    assert (overlap.status, overlap.records, overlap.inserted, overlap.duplicates) == (
        "no_new_records",
        20,
        0,
        20,
    )

    stored = bronze_rows(conn)
    assert len(stored) == 30
    secrets = private_values(VALID)
    assert secrets and not [s for s in secrets if any(s in row for row in stored)]

    run_dbt(settings, ["build", "--select", "stg_tidal__streaming"])
    with conn.cursor() as cur:
        cur.execute(
            "select stamped_at, artist_name, track_name, ms_played from silver.stg_tidal__streaming "
            "where user_id = %s order by stamped_at, ms_played",
            (USER,),
        )
        plays = cur.fetchall()
    expected = sorted(s for s in streams(VALID) if s[1] != "Filtered Artist")  # its one ALBUM row
    assert [tuple(p) for p in plays] == sorted(expected, key=lambda s: (s[0], s[3]))
