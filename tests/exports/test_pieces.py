"""Big CSV files read in pieces by worker processes: cut only between records, loaded into bronze
exactly as when read in one piece, with the same report, and a bad record named from the start of
the file with nothing loaded."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.apple_music import reference as ref
from tests.apple_music.test_warehouse import apple_media_services_zip
from tracktracker_assets.exports import pieces
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.inbox import drop_into_inbox, process_file
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource


def records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_pieces_end_between_records_and_add_up_to_the_file() -> None:
    # the real sample, then records whose quoted fields hold line ends and doubled quotes
    tricky = b'"a\nb","say ""hi""\n\n, there",3\n"",x,"\n"\r\n' * 40
    data = ref.PLAY_ACTIVITY_OLD.read_bytes() + tricky
    whole = records(data)
    for size in (1, 97, 4096, 1 << 20):
        cut = list(pieces.cut(io.BytesIO(data), size))
        assert b"".join(cut) == data
        assert all(piece.endswith(b"\n") for piece in cut[:-1])
        # each piece holds whole records: read one by one, they are the file's records
        assert [r for piece in cut for r in records(piece)] == whole
    unclosed = b'"no line end outside quotes\n'
    assert list(pieces.cut(io.BytesIO(unclosed), 4)) == [unclosed]
    assert pieces.last_line_end(b'x\n"a\nb') == 1
    assert pieces.header_line(b"a,b\r\n1,2\n") == b"a,b\r\n"


@pytest.fixture
def in_pieces(monkeypatch) -> list[int]:
    """Every Play Activity file is read in pieces of 8 KB; the list collects how many pieces each
    file had (the real function, counted on the way)."""
    counts: list[int] = []
    real_in_order = pieces.in_order

    def counted(work, parts, count):
        counts.append(0)
        for result in real_in_order(work, parts, count):
            counts[-1] += 1
            yield result

    monkeypatch.setattr(pieces, "PIECES_FROM_BYTES", 0)
    monkeypatch.setattr(pieces, "PIECE_BYTES", 8192)
    monkeypatch.setattr(pieces, "workers", lambda: 2)
    monkeypatch.setattr(pieces, "in_order", counted)
    return counts


def bronze_rows(conn, user_id: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "select to_jsonb(a) - 'user_id' - 'load_id' - '_loaded_at' "
            "from bronze.apple_music_play_activity a where user_id = %s",
            (user_id,),
        )
        return sorted(json.dumps(row[0], sort_keys=True) for row in cur.fetchall())


def test_a_file_read_in_pieces_loads_what_one_reader_loads(conn, monkeypatch, in_pieces) -> None:
    with monkeypatch.context() as serial:
        serial.setattr(pieces, "PIECES_FROM_BYTES", 1 << 62)
        whole = load_source(conn, "pieces-serial", FileSource(ref.PLAY_ACTIVITY_OLD))
    assert in_pieces == []
    parts = load_source(conn, "pieces-parallel", FileSource(ref.PLAY_ACTIVITY_OLD))
    assert len(in_pieces) == 1 and in_pieces[0] > 100  # 1.8 MB in pieces of 8 KB
    assert (parts.status, parts.records, parts.inserted) == ("loaded", whole.records, whole.inserted)
    assert parts.records == len(ref.csv_records(ref.PLAY_ACTIVITY_OLD))
    assert (parts.min_ts, parts.max_ts) == (whole.min_ts, whole.max_ts)
    assert parts.message == whole.message and "Not stored (private)" in parts.message
    assert bronze_rows(conn, "pieces-parallel") == bronze_rows(conn, "pieces-serial")
    again = load_source(conn, "pieces-parallel", FileSource(ref.PLAY_ACTIVITY_OLD))
    assert again.status == "already_loaded"


def test_the_artist_report_counts_every_piece_against_the_export(settings, conn, tmp_path, in_pieces) -> None:
    # the 2022 layout names no artist: the report adds up the pieces, matched against the hint files
    archive = apple_media_services_zip(tmp_path)
    outcome = process_file(conn, settings, "pieces-zip", drop_into_inbox(settings, "pieces-zip", archive))
    assert outcome.ok, outcome.problems
    [activity] = [f for f in outcome.files if f.name.endswith("Play Activity.csv")]
    assert in_pieces and in_pieces[0] > 1
    events = ref.play_activity_plays(ref.PLAY_ACTIVITY_NEW, merge=False)
    without = sum(1 for e in events if not e.artist)
    left = ref.unresolved_artists(events, ref.LIBRARY_2026, ref.RECENT_2024, ref.DAILY_2025)
    assert f"{without} of {len(events)} play events name no artist" in activity.message
    assert f"{left} stay without an artist" in activity.message


def test_a_bad_record_in_a_later_piece_is_named_from_the_start(conn, tmp_path, in_pieces) -> None:
    data = ref.PLAY_ACTIVITY_OLD.read_bytes()
    lines = data.split(b"\n")
    at = len(lines) - 20  # far beyond the first piece
    stamp = re.search(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z", lines[at]).group()
    lines[at] = lines[at].replace(stamp, b"2016-13-45T99:00:00Z", 1)
    bad = tmp_path / "Apple Music Play Activity.csv"
    bad.write_bytes(b"\n".join(lines))
    with pytest.raises(ImportProblem) as in_parts:
        load_source(conn, "pieces-bad", FileSource(bad))
    assert in_pieces and in_pieces[0] > 10  # pieces before the bad one were read, then the load stopped
    assert "2016-13-45T99:00:00Z" in in_parts.value.problem
    assert in_parts.value.record == at  # the header is line 1: line N is record N - 1, counted whole
    with conn.cursor() as cur:
        cur.execute("select count(*) from bronze.apple_music_play_activity where user_id = 'pieces-bad'")
        assert cur.fetchone()[0] == 0
        cur.execute("select count(*) from bronze.loaded_files where user_id = 'pieces-bad'")
        assert cur.fetchone()[0] == 0


def test_only_big_files_on_several_cores_are_read_in_pieces(monkeypatch) -> None:
    monkeypatch.setattr(pieces, "workers", lambda: 2)
    assert not pieces.worth_it(pieces.PIECES_FROM_BYTES - 1)
    assert pieces.worth_it(pieces.PIECES_FROM_BYTES)
    monkeypatch.setattr(pieces, "workers", lambda: 1)
    assert not pieces.worth_it(10 * pieces.PIECES_FROM_BYTES)
