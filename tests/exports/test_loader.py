"""Loading real export files into bronze: every vintage, no-op re-imports, overlaps, privacy, atomicity."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, real_files
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource

MANIFEST = {m["file"]: m for m in json.loads((REAL_DATA / "MANIFEST.json").read_text())}
HISTORY = [
    p
    for p in real_files("spotify-extended") + real_files("spotify-account")
    if isinstance(MANIFEST[f"{p.parent.name}/{p.name}"]["records"], int)
]


def count(conn, table: str, user_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {table} where user_id = %s", (user_id,))
        return cur.fetchone()[0]


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.name)
def test_every_real_file_loads_completely_then_is_a_no_op(conn, path: Path) -> None:
    user = "loader-" + hashlib.md5(path.name.encode()).hexdigest()[:12]
    expected = MANIFEST[f"{path.parent.name}/{path.name}"]["records"]
    first = load_source(conn, user, FileSource(path))
    assert first.status == "loaded" and first.records == expected == first.inserted
    table = (
        "bronze.spotify_extended_history"
        if "extended" in path.parent.name
        else "bronze.spotify_account_history"
    )
    assert count(conn, table, user) == expected
    again = load_source(conn, user, FileSource(path))
    assert again.status == "already_loaded" and "already loaded" in again.message
    assert count(conn, table, user) == expected


def test_privacy_fields_are_never_stored(conn) -> None:
    path = REAL_DATA / "spotify-extended" / "CandidlyRed--endsong.json"
    load_source(conn, "privacy-check", FileSource(path))
    with conn.cursor() as cur:
        cur.execute(
            "select column_name from information_schema.columns where table_schema = 'bronze' "
            "and column_name ~ '(ip_addr|username|user_agent)'"
        )
        assert cur.fetchall() == []
        cur.execute(
            "select count(*) from bronze.spotify_extended_history where user_id = 'privacy-check' "
            "and extra is not null and (extra ? 'username' or extra ? 'ip_addr_decrypted' "
            "or extra ? 'user_agent_decrypted' or extra ? 'ip_addr')"
        )
        assert cur.fetchone()[0] == 0


def test_unknown_fields_are_kept_in_extra(conn, tmp_path: Path) -> None:
    rows = json.loads(
        (REAL_DATA / "spotify-extended" / "mica-92--Streaming_History_Audio_2024_4.json").read_text()
    )
    rows = rows[:20]
    rows[3]["brand_new_field"] = {"nested": [1, 2]}
    path = tmp_path / "future.json"
    path.write_text(json.dumps(rows))
    result = load_source(conn, "unknown-fields", FileSource(path))
    assert result.inserted == 20
    with conn.cursor() as cur:
        cur.execute(
            "select extra from bronze.spotify_extended_history where user_id = 'unknown-fields' "
            "and extra is not null"
        )
        assert cur.fetchall() == [({"brand_new_field": {"nested": [1, 2]}},)]


def test_overlapping_export_loads_only_new_events(conn, tmp_path: Path) -> None:
    rows = json.loads(
        (REAL_DATA / "spotify-extended" / "Th1nhNg0--Streaming_History_Audio_2024_4.json").read_text()
    )
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(rows[:2000]))
    second.write_text(json.dumps(rows[1500:]))  # 500 records in both
    a = load_source(conn, "overlap", FileSource(first))
    b = load_source(conn, "overlap", FileSource(second))
    assert a.inserted == 2000
    assert b.records == len(rows) - 1500 and b.duplicates >= 500
    assert a.inserted + b.inserted == count(conn, "bronze.spotify_extended_history", "overlap")
    # a file whose every record is already loaded is a reported no-op, not an error
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps(rows[100:300], indent=1))
    c = load_source(conn, "overlap", FileSource(subset))
    assert c.status == "no_new_records" and c.inserted == 0 and "already loaded" in c.message


def test_a_bad_file_loads_nothing_and_keeps_earlier_data(conn, tmp_path: Path) -> None:
    good = REAL_DATA / "spotify-extended" / "Efrrowini--Streaming_History_Audio_2023.json"
    load_source(conn, "atomic", FileSource(good))
    before = count(conn, "bronze.spotify_extended_history", "atomic")
    rows = json.loads(
        (REAL_DATA / "spotify-extended" / "Khushi-203006--Streaming_History_Audio_2023.json").read_text()
    )
    rows[3000]["ms_played"] = "abc"  # deep in the file: earlier batches were already sent to COPY
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rows))
    with pytest.raises(ImportProblem) as info:
        load_source(
            conn,
            "atomic",
            FileSource(bad),
        )
    assert (
        "bad.json" in str(info.value) and "record 3001" in str(info.value) and "ms_played" in str(info.value)
    )
    assert count(conn, "bronze.spotify_extended_history", "atomic") == before
    with conn.cursor() as cur:
        cur.execute("select count(*) from bronze.loaded_files where user_id = 'atomic'")
        assert cur.fetchone()[0] == 1


def test_a_timestamp_postgres_refuses_names_the_record(conn, tmp_path: Path) -> None:
    rows = [{"ts": "2023-01-01T10:00:00Z", "ms_played": 1}, {"ts": "2023-13-45T99:00:00Z", "ms_played": 2}]
    path = tmp_path / "badts.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(ImportProblem) as info:
        load_source(conn, "badts", FileSource(path))
    text = str(info.value)
    assert "badts.json" in text and "record 2" in text and "ts" in text
    assert count(conn, "bronze.spotify_extended_history", "badts") == 0


def test_awkward_values_survive_the_trip_into_postgres(conn, tmp_path: Path) -> None:
    names = [
        "a\\b",
        'say "hi"',
        "line\nbreak",
        "tab\there",
        "[Live],[Remix]",
        "ctl\u0001x",
        "back\\\\slash\\",
        "null",
        "",
        "  spaced  ",
        "emoji 🎧 高橋 नमस्ते",
        '}, {"ts": 1}',
        "\\n literal",
    ]
    rows = [
        {
            "ts": f"2024-01-01T00:00:{i:02d}Z",
            "ms_played": i,
            "master_metadata_track_name": n,
            "platform": "android",
        }
        for i, n in enumerate(names)
    ]
    path = tmp_path / "awkward.json"
    path.write_text(json.dumps(rows, ensure_ascii=False))
    load_source(conn, "awkward", FileSource(path))
    with conn.cursor() as cur:
        cur.execute(
            "select master_metadata_track_name from bronze.spotify_extended_history "
            "where user_id = 'awkward' order by ms_played"
        )
        stored = [r[0] for r in cur.fetchall()]
    # an empty string is stored as such, never confused with a missing value
    assert stored == names


def test_awkward_values_of_another_service_survive_the_trip(conn, tmp_path: Path) -> None:
    """Other services' rows go to COPY as one JSON encoding per batch; a value holding what looks
    like a row boundary ("],[") or an escape CSV reads differently takes the careful path."""
    names = [
        "a\\b",
        'say "hi"',
        "[Live],[Remix]",
        "ctl\u0001x",
        "back\\\\slash\\",
        "null",
        "emoji 🎧 高橋 नमस्ते",
        "\\n literal",
        "plain",
    ]
    path = tmp_path / "scrobbles.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(
            ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]
        )
        for i, name in enumerate(names):
            uts = 1_700_000_000 + 600 * i
            writer.writerow([uts, "14 Nov 2023, 22:13", "Artist", "", "Album", "", name, ""])
    result = load_source(conn, "awkward-lastfm", FileSource(path))
    assert result.inserted == len(names)
    with conn.cursor() as cur:
        cur.execute(
            "select track, user_id, load_id from bronze.lastfm_scrobbles "
            "where user_id = 'awkward-lastfm' order by scrobbled_at"
        )
        stored = cur.fetchall()
    assert [row[0] for row in stored] == names
    assert {row[1:] for row in stored} == {("awkward-lastfm", stored[0][2])}


@pytest.mark.parametrize("interrupt", ["KeyboardInterrupt", "DagsterExecutionInterruptedError"])
def test_an_interrupt_as_postgres_calls_read_stays_an_interrupt(conn, monkeypatch, interrupt: str) -> None:
    """A signal whose handler runs at read()'s first instruction raises before read() can note it
    (the suite saw it once, under load): psycopg2 keeps only the exception's type name, and the import
    said the database failed."""
    import io

    from dagster._core.errors import DagsterExecutionInterruptedError

    from tracktracker_assets.exports import loader

    raised = {
        "KeyboardInterrupt": KeyboardInterrupt,
        "DagsterExecutionInterruptedError": DagsterExecutionInterruptedError,
    }
    calls = []
    original = loader._CsvPipe.read

    def read_then_interrupted(self, size=-1):  # the second call is where the signal lands
        calls.append(size)
        if len(calls) == 2:
            raise raised[interrupt]()
        return original(self, size)

    monkeypatch.setattr(loader._CsvPipe, "read", read_then_interrupted)

    def produce():
        yield 1, b"1\n"
        yield 1, b"2\n"

    with conn.cursor() as cur:
        cur.execute("create temporary table interrupted_entry (x int)")
    try:
        with pytest.raises(KeyboardInterrupt):  # Dagster's step takes it as its own interrupt
            loader._copy_stream(
                conn,
                "copy pg_temp.interrupted_entry (x) from stdin with (format csv)",
                "probe.json",
                loader._HashingStream(io.BytesIO(b"")),
                produce,
            )
    finally:
        conn.rollback()


def test_an_interrupt_while_postgres_reads_the_file_stays_an_interrupt(conn) -> None:
    """Ctrl-C or SIGTERM landing while COPY waits for the parser reached psycopg2 inside read(): it
    reported the COPY failing ("error in .read() call"), and the import said the database failed
    instead of that it was interrupted (Dagster then marks the run failed by SIGINT, as elsewhere)."""
    import io
    import signal
    import threading

    from tracktracker_assets.exports.loader import _copy_stream, _HashingStream

    class Interrupted(Exception):  # stands for Dagster's DagsterExecutionInterruptedError
        pass

    def interrupt(_signum, _frame):
        raise Interrupted()

    release = threading.Event()

    def produce():
        yield 1, b"1\n"
        release.wait(10)  # the parser is slow: COPY waits in read() for the next batch
        yield 1, b"2\n"

    with conn.cursor() as cur:
        cur.execute("create temporary table interrupted_probe (x int)")
    previous = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1))
    timer.start()
    try:
        with pytest.raises(Interrupted):
            _copy_stream(
                conn,
                "copy pg_temp.interrupted_probe (x) from stdin with (format csv)",
                "probe.json",
                _HashingStream(io.BytesIO(b"")),
                produce,
            )
    finally:
        release.set()
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
        conn.rollback()
