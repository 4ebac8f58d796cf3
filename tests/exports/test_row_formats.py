"""The loader's path for the other services' formats (exports/rowformats.py), with a small CSV format
made for this test: what every service room relies on, checked once, apart from any real format."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.inbox import drop_into_inbox, process_file, process_inbox
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.rowformats import Head, NotHistory, ReadContext, Row, RowFormat, json_text
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.warehouse import identity

HEADER = "played_at,artist,title,secret_ip"
TABLE = "bronze.test_row_plays"


def _read(stream: IO[bytes], context: ReadContext) -> Iterator[list[Row]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    rows = csv.DictReader(text)
    batch: list[Row] = []
    for number, record in enumerate(rows, start=1):
        try:
            played = datetime.fromisoformat(record["played_at"])
        except ValueError:
            raise context.problem(f"played_at {record['played_at']!r} is no time.", record=number) from None
        if record.get("secret_ip"):
            context.dropped.add("secret_ip")
        batch.append((played, record["artist"], record["title"], json_text({"n": number})))
        if len(batch) == 2:  # several batches even for a tiny file
            yield batch
            batch = []
    if batch:
        yield batch
    context.notes.append(f"Siblings seen: {len(context.siblings)}.")


FORMAT = RowFormat(
    name="test_rows_csv",
    description="Test rows (CSV)",
    service="test",
    table=TABLE,
    columns=("played_at", "artist", "title", "extra"),
    time_column="played_at",
    sniff=lambda head: head.first_line.startswith(HEADER),
    read=_read,
)
NOT_HISTORY = NotHistory(
    what="a test library", hint="Import the plays.", sniff=lambda head: head.first_line == "library"
)


@pytest.fixture
def row_format(conn, monkeypatch) -> RowFormat:
    with conn.cursor() as cur:
        cur.execute(
            f"create table if not exists {TABLE} (user_id text not null, load_id bigint not null, "
            "played_at timestamptz not null, artist text, title text, extra jsonb, "
            "_loaded_at timestamptz not null default now())"
        )
    conn.commit()
    monkeypatch.setattr(catalogue, "row_formats", lambda: (FORMAT,))
    monkeypatch.setattr(catalogue, "not_history", lambda: (NOT_HISTORY,))
    identities = {**identity.event_identities(), "test_row_plays": ("played_at", "artist", "title")}
    monkeypatch.setattr(identity, "event_identities", lambda: identities)
    yield FORMAT
    with conn.cursor() as cur:
        cur.execute(f"drop table {TABLE}")
    conn.commit()


def _csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _rows(conn, user_id: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(f"select played_at, artist, title from {TABLE} where user_id = %s order by 1", (user_id,))
        return cur.fetchall()


def test_rows_load_once_and_an_overlapping_file_adds_only_new_ones(conn, row_format, tmp_path) -> None:
    first = _csv(
        tmp_path / "a.csv",
        "2024-01-01T10:00:00+00:00,Artist,One,10.0.0.1",
        "2024-01-01T10:04:00+00:00,Artist,Two,",
        "2024-01-01T10:08:00+00:00,Artist,Three,",
    )
    result = load_source(conn, "rows", FileSource(first))
    assert (result.status, result.format, result.records, result.inserted) == (
        "loaded",
        "test_rows_csv",
        3,
        3,
    )
    assert result.min_ts == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert "Not stored (private): secret_ip." in result.message
    assert "Siblings seen: 0." in result.notes
    assert load_source(conn, "rows", FileSource(first)).status == "already_loaded"
    overlapping = _csv(
        tmp_path / "b.csv",
        "2024-01-01T10:08:00+00:00,Artist,Three,",
        "2024-01-01T10:12:00+00:00,Artist,Four,",
    )
    again = load_source(conn, "rows", FileSource(overlapping))
    assert (again.records, again.inserted, again.duplicates) == (2, 1, 1)
    assert [r[2] for r in _rows(conn, "rows")] == ["One", "Two", "Three", "Four"]


def test_a_bad_row_loads_nothing_of_the_file(conn, row_format, tmp_path) -> None:
    bad = _csv(
        tmp_path / "bad.csv",
        "2024-01-01T10:00:00+00:00,Artist,One,",
        "2024-01-01T10:04:00+00:00,Artist,Two,",
        "2024-01-01T10:08:00+00:00,Artist,Three,",
        "yesterday,Artist,Four,",
    )
    with pytest.raises(ImportProblem) as refused:
        load_source(conn, "rows-bad", FileSource(bad))
    assert str(refused.value).startswith(f"{bad}, record 4: played_at 'yesterday' is no time.")
    future = _csv(tmp_path / "future.csv", "2024-01-01T10:00:00+00:00,A,B,", "2999-01-01T00:00:00+00:00,A,C,")
    with pytest.raises(ImportProblem, match="time 2999-01-01T00:00:00\\+00:00 of row 2 is no possible play"):
        load_source(conn, "rows-bad", FileSource(future))
    assert _rows(conn, "rows-bad") == []


def test_known_other_files_and_unknown_files_are_refused_clearly(conn, row_format, tmp_path) -> None:
    library = tmp_path / "library.csv"
    library.write_text("library\nx\n")
    with pytest.raises(
        ImportProblem, match=r"this is a test library, not listening history\. Import the plays\."
    ):
        load_source(conn, "rows-other", FileSource(library))
    unknown = tmp_path / "what.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ImportProblem, match=r"Apple_Media_Services\.zip"):
        load_source(conn, "rows-other", FileSource(unknown))


def test_a_zip_with_a_zip_inside_loads_every_history_member(conn, settings, row_format, tmp_path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("Activity/plays.csv", f"{HEADER}\n2024-02-01T10:00:00+00:00,X,Inner,\n")
    archive = tmp_path / "Services.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Services/plays.csv", f"{HEADER}\n2024-02-01T11:00:00+00:00,X,Outer,\n")
        zf.writestr("Services/library.csv", "library\n")
        zf.writestr("Services/Other Activity.csv", "Date,Thing\n2024,x\n")
        zf.writestr("__MACOSX/Services/._plays.csv", b"\x00\x05\x16\x07")
        zf.writestr("Services/Packed.zip", inner.getvalue())
    result = process_file(conn, settings, "rows-zip", drop_into_inbox(settings, "rows-zip", archive))
    assert result.ok, result.problems
    statuses = {f.name: f.status for f in result.files}
    assert statuses == {
        "Services.zip:Services/plays.csv": "loaded",
        "Services.zip:Services/library.csv": "skipped",
        "Services.zip:Services/Other Activity.csv": "skipped",
        "Services.zip:Services/Packed.zip:Activity/plays.csv": "loaded",
    }
    # each member's reader saw the other history members of the ZIP
    assert "Siblings seen: 1." in result.files[0].notes
    assert [r[2] for r in _rows(conn, "rows-zip")] == ["Inner", "Outer"]


def test_files_dropped_together_see_each_other(conn, settings, row_format, tmp_path) -> None:
    for name, title in (("one.csv", "A"), ("two.csv", "B")):
        drop_into_inbox(
            settings, "rows-together", _csv(tmp_path / name, f"2024-03-01T10:0{len(title)}:00Z,X,{title},")
        )
    results = process_inbox(conn, settings, "rows-together")
    assert [f.notes[-1] for r in results for f in r.files] == ["Siblings seen: 1.", "Siblings seen: 1."]


def test_head_reads_csv_headers_past_a_bom() -> None:
    head = Head("x.csv", b'\xef\xbb\xbf"Artist Name","Content Name"\r\n"a","b"\r\n', complete=True)
    assert head.csv_header() == ["Artist Name", "Content Name"]
    assert head.starts_with(b'"Artist')
