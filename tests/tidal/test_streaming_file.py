"""Tidal's streaming.csv read on its own (no database): the real sample against an independent reading,
its time-zone rule, privacy, and bad input refused with the file and the record named."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from tests.tidal.reference import SAMPLE, private_values, streams, without_line
from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.rowformats import Head, ReadContext
from tracktracker_assets.tidal.files import STREAMING_CSV

TEXT = SAMPLE.read_text(encoding="utf-8")
# the sample's one row its author made unparsable on purpose (entry_date "not-a-date")
VALID = without_line(TEXT, "not-a-date")


def read_all(data: bytes, name: str = "streaming.csv") -> tuple[list[tuple], ReadContext]:
    context = ReadContext(name)
    return [row for batch in STREAMING_CSV.read(io.BytesIO(data), context) for row in batch], context


def test_recognised_by_its_header() -> None:
    head = Head("x.csv", TEXT.encode(), True)
    assert [fmt for fmt in catalogue.row_formats() if fmt.sniff(head)] == [STREAMING_CSV]


def test_the_real_sample_is_refused_at_its_unparsable_row() -> None:
    with pytest.raises(ImportProblem) as refused:
        read_all(TEXT.encode())
    bad = next(n for n, line in enumerate(TEXT.splitlines()[1:], start=1) if "not-a-date" in line)
    assert refused.value.record == bad
    assert f"line {bad + 1} has entry_date 'not-a-date'" in str(refused.value)
    assert str(refused.value).startswith(f"streaming.csv, record {bad}:")


def test_rows_match_an_independent_reading() -> None:
    rows, _ = read_all(VALID.encode())
    expected = streams(VALID)
    assert len(rows) == len(expected) == 30
    assert [(r[0], r[3], r[4], round(Decimal(r[5]))) for r in rows] == expected
    # both "Swang" streams at 3:07 are kept: they are two events (3 s and 208 s)
    assert sum(1 for r in rows if r[4] == "Swang") == 2
    # Toronto in March 2022 (before the DST change on the 13th) is UTC-5
    first = rows[0]
    assert first[1] == "08/03/2022 19:01" and first[0].isoformat() == "2022-03-09T00:01:00+00:00"


def test_null_and_unknown_zones_are_read_as_utc_and_counted() -> None:
    rows, context = read_all(VALID.encode())
    no_zone = sum(1 for r in rows if r[2] is None)
    assert no_zone == sum(1 for line in VALID.splitlines()[1:] if line.endswith(",null"))
    assert context.notes == [
        f"{no_zone} streams have no time zone and 1 an unknown one ('Not/AZone'): "
        "their entry_date is read as UTC."
    ]
    [odd] = [r for r in rows if r[2] == "Not/AZone"]
    assert odd[0].isoformat() == "2022-03-09T00:02:00+00:00"


def test_privacy_fields_are_dropped_and_named() -> None:
    rows, context = read_all(VALID.encode())
    assert context.dropped == {"ip_address", "region_name", "city_name", "postal_code"}
    secrets = private_values(VALID)
    assert {"Cityname", "A1B", "Province"} <= secrets
    flat = " ".join(str(value) for row in rows for value in row)
    assert not [s for s in secrets if s in flat]


def test_header_only_is_refused() -> None:
    with pytest.raises(ImportProblem, match="only its header"):
        read_all(TEXT.splitlines(keepends=True)[0].encode())


def test_a_truncated_file_is_refused_naming_the_record() -> None:
    lines = VALID.splitlines(keepends=True)
    cut = "".join(lines[:10]) + lines[10][:25]
    with pytest.raises(ImportProblem) as refused:
        read_all(cut.encode())
    assert refused.value.record == 10 and "truncated" in str(refused.value)


def test_another_encoding_is_refused() -> None:
    data = VALID.replace("Childish Gambino", "Childish Gambiñooo").encode("latin-1")
    with pytest.raises(ImportProblem, match="not UTF-8"):
        read_all(data)


def test_a_non_number_duration_is_refused() -> None:
    with pytest.raises(ImportProblem, match="stream_duration_ms 'long'"):
        read_all(VALID.replace("234000.0", "long").encode())
