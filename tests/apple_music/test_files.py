"""Apple Music's files read without a database: recognised by content, every record kept, privacy
fields dropped, companion files as hints, and every kind of damaged file refused naming the record."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.apple_music import reference as ref
from tracktracker_assets.exports.catalogue import row_format_of
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.rowformats import Head, ReadContext

SAMPLES = {
    ref.PLAY_ACTIVITY_OLD: "apple_music_play_activity_csv",
    ref.PLAY_ACTIVITY_NEW: "apple_music_play_activity_csv",
    ref.TRACK_PLAY_HISTORY: "apple_music_track_play_history_csv",
    ref.DAILY_2015: "apple_music_daily_tracks_csv",
    ref.DAILY_2025: "apple_music_daily_tracks_csv",
    ref.RECENT_2020: "apple_music_recently_played_csv",
    ref.RECENT_2024: "apple_music_recently_played_csv",
    ref.LIBRARY_2020: "apple_music_library_tracks_json",
    ref.LIBRARY_2026: "apple_music_library_tracks_json",
}


def head_of(data: bytes, name: str = "file") -> Head:
    return Head(name, data[:65536], complete=len(data) <= 65536)


def opener(path: Path):
    return lambda: path.open("rb")


def read_all(path_or_bytes: Path | bytes, name: str = "file", siblings: dict | None = None):
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    fmt = row_format_of(head_of(data, name))
    assert fmt is not None, name
    context = ReadContext(name, siblings=siblings or {})
    rows = [row for batch in fmt.read(io.BytesIO(data), context) for row in batch]
    return fmt, rows, context


@pytest.mark.parametrize("path", list(SAMPLES), ids=lambda p: p.name)
def test_each_sample_is_recognised_and_every_record_kept(path: Path) -> None:
    siblings = {"Apple Music Play Activity.csv": opener(ref.PLAY_ACTIVITY_NEW)}
    fmt, rows, _ = read_all(path, path.name, siblings)
    assert fmt.name == SAMPLES[path]
    expected = ref.json_records(path) if path.suffix == ".json" else ref.csv_records(path)
    assert len(rows) == len(expected)
    assert all(len(row) == len(fmt.columns) for row in rows)


def test_play_activity_layouts_are_typed_alike() -> None:
    fmt, old, old_context = read_all(ref.PLAY_ACTIVITY_OLD, "old.csv")
    _, new, new_context = read_all(ref.PLAY_ACTIVITY_NEW, "new.csv")
    column = {name: i for i, name in enumerate(fmt.columns)}
    expected_old = ref.csv_records(ref.PLAY_ACTIVITY_OLD)
    expected_new = ref.csv_records(ref.PLAY_ACTIVITY_NEW)
    assert {r[column["layout"]] for r in old} == {"pre2022"}
    assert {r[column["layout"]] for r in new} == {"2022"}
    assert [r[column["song_name"]] for r in old] == [e["Content Name"] or None for e in expected_old]
    assert [r[column["artist_name"]] for r in old] == [e["Artist Name"] or None for e in expected_old]
    assert [r[column["song_name"]] for r in new] == [e["Song Name"] or None for e in expected_new]
    # the quirks: Excel's scientific Event ID kept as written, a negative duration kept as it is,
    # PLAY_START rows without an end kept (staging decides), 186000.0 read as a whole number
    assert [r[column["play_duration_ms"]] for r in new] == [
        int(e["Play Duration Milliseconds"]) if e["Play Duration Milliseconds"] else None
        for e in expected_new
    ]
    assert any((r[column["play_duration_ms"]] or 0) < 0 for r in new)
    assert sum(r[column["event_type"]] == "PLAY_START" for r in new) == sum(
        e["Event Type"] == "PLAY_START" for e in expected_new
    )
    assert [r[column["media_duration_ms"]] for r in old[:3]] == [
        int(float(e["Media Duration In Milliseconds"])) if e["Media Duration In Milliseconds"] else None
        for e in expected_old[:3]
    ]
    assert all(r[column["event_at"]] is not None for r in old + new)
    extra_ids = [re.search(r'"Event ID":"([^"]*)"', r[column["extra"]]).group(1) for r in new]
    assert extra_ids == [e["Event ID"] for e in expected_new]
    assert [r[column["utc_offset_s"]] for r in new] == [int(e["UTC Offset In Seconds"]) for e in expected_new]
    # privacy: named in the report, no value of theirs anywhere in a row
    assert {"Apple Id Number", "Device Identifier", "Metrics Client Id"} <= old_context.dropped
    assert {
        "Apple ID Number",
        "Client IP Address",
        "Device Identifier",
        "Metrics Client ID",
        "IP City",
        "IP Latitude",
        "IP Longitude",
        "IP Network",
    } <= new_context.dropped
    private_values = {
        e[name]
        for e in expected_new + expected_old
        for name in e
        if name in old_context.dropped | new_context.dropped
    } - {""}
    assert private_values >= {"192.0.2.1", "2001:db8::1", "REDACTED", "redacted"}
    for row in old + new:
        text = repr(row)
        assert not any(value in text for value in private_values), row


def test_track_play_history_rows_as_received() -> None:
    _fmt, rows, _ = read_all(ref.TRACK_PLAY_HISTORY, "history.csv")
    expected = ref.csv_records(ref.TRACK_PLAY_HISTORY)
    assert [(int(r[0].timestamp() * 1000 + 0.5), r[1], r[2]) for r in rows] == [
        (int(e["Last Played Date"]), e["Track Name"], e["Is User Initiated"] == "true") for e in expected
    ]


def test_the_library_alone_is_refused_and_loads_with_play_activity() -> None:
    with pytest.raises(ImportProblem) as refused:
        read_all(ref.LIBRARY_2026, "Apple Music Library Tracks.json")
    assert "Apple Music Library Tracks.json" in str(refused.value)
    assert "not listening history" in str(refused.value)
    assert "Apple_Media_Services.zip" in str(refused.value)
    # with a file that is no Play Activity beside it, still refused
    with pytest.raises(ImportProblem):
        read_all(ref.LIBRARY_2026, "lib.json", {"daily.csv": opener(ref.DAILY_2025)})
    fmt, rows, context = read_all(ref.LIBRARY_2026, "lib.json", {"pa.csv": opener(ref.PLAY_ACTIVITY_NEW)})
    assert fmt.kind == "hints" and len(rows) == len(ref.json_records(ref.LIBRARY_2026))
    assert any("adds no plays" in note for note in context.notes)


@pytest.mark.parametrize("path", [ref.DAILY_2015, ref.RECENT_2020], ids=lambda p: p.name)
def test_aggregates_alone_load_as_hints_and_say_they_add_no_plays(path: Path) -> None:
    fmt, rows, context = read_all(path, path.name)
    assert fmt.kind == "hints"
    assert rows
    assert any(path.name in note and "add no plays" in note for note in context.notes)


def test_the_report_counts_plays_left_without_an_artist() -> None:
    events = ref.play_activity_plays(ref.PLAY_ACTIVITY_NEW, merge=False)
    without = sum(1 for e in events if not e.artist)
    hints = {
        "lib.json": opener(ref.LIBRARY_2026),
        "recent.csv": opener(ref.RECENT_2024),
        "daily.csv": opener(ref.DAILY_2025),
    }
    left = ref.unresolved_artists(events, ref.LIBRARY_2026, ref.RECENT_2024, ref.DAILY_2025)
    _, _, context = read_all(ref.PLAY_ACTIVITY_NEW, "pa.csv", hints)
    [note] = [n for n in context.notes if "name no artist" in n]
    assert f"{without} of {len(events)} play events name no artist" in note
    assert f"{left} stay without an artist" in note
    assert left < without  # the hints named some
    _, _, alone = read_all(ref.PLAY_ACTIVITY_NEW, "pa.csv")
    [note] = [n for n in alone.notes if "name no artist" in n]
    assert f"{without} stay without an artist" in note and "no artist file came" in note


# -- damaged files: refused naming the file and record, nothing read -----------------------------------

GOOD = ref.PLAY_ACTIVITY_OLD.read_bytes()


def refused(data: bytes, name: str = "Apple Music Play Activity.csv") -> ImportProblem:
    fmt = row_format_of(head_of(data, name))
    assert fmt is not None
    with pytest.raises(ImportProblem) as caught:
        for _ in fmt.read(io.BytesIO(data), ReadContext(name)):
            pass
    assert caught.value.file == name
    assert caught.value.hint
    return caught.value


def test_a_truncated_row_is_refused_by_number() -> None:
    lines = GOOD.split(b"\n")
    cut = b"\n".join(lines[:11]) + b"\n" + b",".join(lines[11].split(b",")[:10])
    problem = refused(cut)
    assert problem.record == 11 and "fields" in problem.problem


def test_utf16_is_refused() -> None:
    data = ref.TRACK_PLAY_HISTORY.read_text(encoding="utf-8").encode("utf-16")
    problem = refused(data, "Apple Music - Track Play History.csv")
    assert "UTF-16" in problem.problem


def test_latin1_bytes_are_refused_by_record() -> None:
    lines = ref.RECENT_2020.read_bytes().split(b"\n")
    assert b"Polo G" in lines[4] and all(line.isascii() for line in lines[:4])
    lines[4] = lines[4].replace(b"Polo G", "Polo Gé".encode("latin-1"))
    problem = refused(b"\n".join(lines), "recent.csv")
    # the fifth line is the fourth record, named exactly though the decoder meets it mid-file
    assert "UTF-8" in problem.problem and "line 5" in problem.problem and problem.record == 4


def test_header_only_is_refused() -> None:
    problem = refused(GOOD.split(b"\n")[0] + b"\n")
    assert "no rows" in problem.problem


def test_empty_file_is_no_apple_format() -> None:
    assert row_format_of(head_of(b"", "empty.csv")) is None


def test_an_unparsable_time_is_refused_by_row() -> None:
    lines = ref.TRACK_PLAY_HISTORY.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",1612639776175,", b",yesterday,")
    problem = refused(b"\n".join(lines), "history.csv")
    assert problem.record == 3 and "yesterday" in problem.problem
    records = ref.csv_records(ref.PLAY_ACTIVITY_OLD)
    stamp = records[6]["Event End Timestamp"]
    first = next(i for i, r in enumerate(records, 1) if stamp in r.values())
    problem = refused(GOOD.replace(stamp.encode(), b"2016-13-45T99:00:00Z", 1))
    assert "2016-13-45T99:00:00Z" in problem.problem and problem.record == first


def test_a_cut_short_library_is_refused() -> None:
    data = ref.LIBRARY_2020.read_bytes()
    cut = data[: len(data) // 2]
    with pytest.raises(ImportProblem) as caught:
        read_all(cut, "Apple Music Library Tracks.json", {"pa.csv": opener(ref.PLAY_ACTIVITY_OLD)})
    assert "no valid JSON" in caught.value.problem and caught.value.hint
