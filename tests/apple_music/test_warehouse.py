"""Apple Music's samples through the loader (the export ZIP as Apple delivers it, single files, the
same file twice, an overlapping file of another vintage), then through staging (dbt build of the
Apple models, unit tests included), compared with an independent reading (reference.py): every
record in bronze once, plays counted once, fragments merged, the artist of 2022+ plays recovered
from the hint files, privacy values nowhere, damaged or lone-library files loading nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.apple_music import reference as ref
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.inbox import drop_into_inbox, process_file
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt
from tracktracker_assets.warehouse.db import connect, query

MODELS = [
    "stg_apple_music__artist_hints",
    "stg_apple_music__play_activity",
    "stg_apple_music__track_play_history",
]
OLD, NEW, HISTORY, BAD = "apple-old", "apple-new", "apple-history", "apple-bad"
ACTIVITY = "Apple_Media_Services/Apple Music Activity"
TABLES = (
    "apple_music_play_activity",
    "apple_music_track_play_history",
    "apple_music_daily_tracks",
    "apple_music_recently_played",
    "apple_music_library_tracks",
)


def apple_media_services_zip(folder: Path) -> Path:
    """An export as Apple delivers it: Apple_Media_Services.zip, the music files in "Apple Music
    Activity", the library packed in a ZIP of its own inside."""
    library = io.BytesIO()
    with zipfile.ZipFile(library, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ref.LIBRARY_2026, "Apple Music Library Tracks.json")
    archive = folder / "Apple_Media_Services.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ref.PLAY_ACTIVITY_NEW, f"{ACTIVITY}/Apple Music Play Activity.csv")
        zf.write(ref.RECENT_2024, f"{ACTIVITY}/Apple Music - Recently Played Tracks.csv")
        zf.write(ref.DAILY_2025, f"{ACTIVITY}/Apple Music - Play History Daily Tracks.csv")
        zf.writestr(f"{ACTIVITY}/Apple Music Library Tracks.json.zip", library.getvalue())
    return archive


def bronze_count(url: str, table: str, user_id: str) -> int:
    return query(url, f"select count(*) from bronze.{table} where user_id = %s", (user_id,))[1][0][0]


@pytest.fixture(scope="module")
def apple_loaded(settings, warehouse_url, tmp_path_factory):
    """Everything loaded once for the module: (warehouse url, the ZIP's first and second results)."""
    folder = tmp_path_factory.mktemp("apple")
    archive = apple_media_services_zip(folder)
    conn = connect(warehouse_url)
    try:
        first = process_file(conn, settings, NEW, drop_into_inbox(settings, NEW, archive))
        again = process_file(conn, settings, NEW, drop_into_inbox(settings, NEW, archive))
        # the same events in a copy of another vintage: other capitals, Event IDs written differently
        resaved = folder / "Apple Music Play Activity.csv"
        resaved.write_bytes(
            ref.PLAY_ACTIVITY_NEW.read_bytes().replace(b"TRUE", b"True").replace(b"E+18", b"000000000000000")
        )
        vintage = load_source(conn, NEW, FileSource(resaved))
        load_source(conn, OLD, FileSource(ref.PLAY_ACTIVITY_OLD))
        load_source(conn, HISTORY, FileSource(ref.TRACK_PLAY_HISTORY))
        # an older export: the first thousand plays, which the newer one holds too
        older = folder / "Apple Music - Track Play History.csv"
        older.write_bytes(b"\n".join(ref.TRACK_PLAY_HISTORY.read_bytes().split(b"\n")[:1001]))
        overlap = load_source(conn, HISTORY, FileSource(older))
        twice = load_source(conn, HISTORY, FileSource(ref.TRACK_PLAY_HISTORY))
    finally:
        conn.close()
    run_dbt(settings, ["build", "--select", *MODELS])
    return warehouse_url, first, again, overlap, twice, vintage


def test_the_export_zip_loads_every_file_once(apple_loaded) -> None:
    url, first, again, overlap, twice, vintage = apple_loaded
    assert first.ok, first.problems
    statuses = {f.name.rsplit("/", 1)[-1]: f.status for f in first.files}
    assert statuses == {
        "Apple Music Play Activity.csv": "loaded",
        "Apple Music - Recently Played Tracks.csv": "loaded",
        "Apple Music - Play History Daily Tracks.csv": "loaded",
        "Apple Music Library Tracks.json.zip:Apple Music Library Tracks.json": "loaded",
    }
    expected = {
        "apple_music_play_activity": len(ref.csv_records(ref.PLAY_ACTIVITY_NEW)),
        "apple_music_recently_played": len(ref.csv_records(ref.RECENT_2024)),
        "apple_music_daily_tracks": len(ref.csv_records(ref.DAILY_2025)),
        "apple_music_library_tracks": len(ref.json_records(ref.LIBRARY_2026)),
    }
    assert {t: bronze_count(url, t, NEW) for t in expected} == expected
    # the report: what was not stored, the aggregates adding no plays, the artists left unknown
    [activity] = [f for f in first.files if f.name.endswith("Play Activity.csv")]
    assert "Client IP Address" in activity.message and "Apple ID Number" in activity.message
    events = ref.play_activity_plays(ref.PLAY_ACTIVITY_NEW, merge=False)
    left = ref.unresolved_artists(events, ref.LIBRARY_2026, ref.RECENT_2024, ref.DAILY_2025)
    assert f"{left} stay without an artist" in activity.message
    assert all("add no plays" in f.message for f in first.files if "Daily" in f.name or "Recently" in f.name)
    # the same ZIP again: nothing changes
    assert {f.status for f in again.files} == {"already_loaded"}
    assert {t: bronze_count(url, t, NEW) for t in expected} == expected
    # another copy of the same events adds nothing
    assert (vintage.status, vintage.records, vintage.inserted) == (
        "no_new_records",
        len(ref.csv_records(ref.PLAY_ACTIVITY_NEW)),
        0,
    )
    assert bronze_count(url, "apple_music_play_activity", NEW) == expected["apple_music_play_activity"]
    # the same file twice and an older overlapping export: not one row more
    assert twice.status == "already_loaded"
    assert (overlap.records, overlap.inserted) == (1000, 0)
    assert bronze_count(url, "apple_music_track_play_history", HISTORY) == len(
        ref.csv_records(ref.TRACK_PLAY_HISTORY)
    )
    assert bronze_count(url, "apple_music_play_activity", OLD) == len(ref.csv_records(ref.PLAY_ACTIVITY_OLD))


def test_the_library_alone_and_damaged_files_load_nothing(conn, warehouse_url, tmp_path) -> None:
    with pytest.raises(ImportProblem) as refused:
        load_source(conn, BAD, FileSource(ref.LIBRARY_2020))
    assert str(refused.value).startswith(f"{ref.LIBRARY_2020}: this is your Apple Music library")
    conn.rollback()
    lines = ref.PLAY_ACTIVITY_OLD.read_bytes().split(b"\n")
    cut = tmp_path / "Apple Music Play Activity.csv"
    cut.write_bytes(b"\n".join(lines[:4001]) + b"\n" + lines[4001][:40])
    with pytest.raises(ImportProblem) as damaged:
        load_source(conn, BAD, FileSource(cut))
    assert damaged.value.record == 4001 and damaged.value.hint
    conn.rollback()
    resaved = tmp_path / "Apple Music - Track Play History.csv"
    resaved.write_bytes(ref.TRACK_PLAY_HISTORY.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(ImportProblem, match="UTF-16"):
        load_source(conn, BAD, FileSource(resaved))
    conn.rollback()
    for table in TABLES:
        assert bronze_count(warehouse_url, table, BAD) == 0
    assert query(warehouse_url, "select count(*) from bronze.loaded_files where user_id = %s", (BAD,))[1] == [
        (0,)
    ]


def plays(url: str, model: str, user_id: str) -> list[tuple]:
    return query(
        url,
        f"select track_name, artist_name, album_name, started_at, ended_at, ms_played, stamped_at, stamp "
        f"from silver.{model} where user_id = %s order by stamped_at",
        (user_id,),
    )[1]


def test_play_activity_plays_as_the_reference_counts(apple_loaded) -> None:
    url = apple_loaded[0]
    for user_id, path in ((OLD, ref.PLAY_ACTIVITY_OLD), (NEW, ref.PLAY_ACTIVITY_NEW)):
        expected = ref.play_activity_plays(path)
        found = plays(url, "stg_apple_music__play_activity", user_id)
        assert len(found) == len(expected), path.name
        assert sorted((f[4], f[3], f[0], f[5]) for f in found) == sorted(
            (p.ended_at, p.started_at, p.song, p.ms_played) for p in expected
        )
        assert all(f[7] == "end" and f[6] == f[4] for f in found)
    merged = [p for p in ref.play_activity_plays(ref.PLAY_ACTIVITY_OLD) if p.fragments > 1]
    assert merged  # the sample does have fragments, so merging is exercised


def test_the_artist_of_2022_plays_comes_from_the_hints(apple_loaded) -> None:
    url = apple_loaded[0]
    expected = ref.play_activity_plays(ref.PLAY_ACTIVITY_NEW)
    left = ref.unresolved_artists(expected, ref.LIBRARY_2026, ref.RECENT_2024, ref.DAILY_2025)
    found = plays(url, "stg_apple_music__play_activity", NEW)
    assert sum(1 for f in found if f[1] is None) == left
    assert left < len(expected)
    # the old layout names its own artists: only rows Apple left without one stay without
    old = plays(url, "stg_apple_music__play_activity", OLD)
    assert sum(1 for f in old if f[1] is None) == sum(
        1 for p in ref.play_activity_plays(ref.PLAY_ACTIVITY_OLD) if not p.artist
    )


def test_track_play_history_counts_each_play_once(apple_loaded) -> None:
    url = apple_loaded[0]
    expected = ref.track_play_history_plays(ref.TRACK_PLAY_HISTORY)
    found = plays(url, "stg_apple_music__track_play_history", HISTORY)
    assert len(found) == len(expected)
    assert query(
        url,
        "select count(*), count(distinct play_id) from silver.stg_apple_music__track_play_history "
        "where user_id = %s",
        (HISTORY,),
    )[1] == [(len(expected), len(expected))]


def test_no_privacy_value_in_bronze(apple_loaded) -> None:
    url = apple_loaded[0]
    private = {"192.0.2.1", "2001:db8::1", "REDACTED", "redacted"}
    for table in TABLES:
        [(text,)] = query(
            url,
            f"select coalesce(string_agg(t::text, E'\\n'), '') from bronze.{table} as t "
            "where user_id like 'apple-%%'",
        )[1]
        assert text, table
        assert not any(value in text for value in private), table


def test_the_cli_refuses_a_lone_library_naming_it(settings, warehouse_url) -> None:
    from tests.conftest import cli

    code, output = cli("users", "add", "apple-cli", "--name", "Apple CLI", "--timezone", "Europe/Paris")
    assert code == 0, output
    code, output = cli("import", "apple-cli", str(ref.LIBRARY_2026))
    assert code != 0, output
    flat = " ".join(output.split())
    assert ref.LIBRARY_2026.name in flat
    assert "this is your Apple Music library, not listening history" in flat
    assert "Apple_Media_Services.zip" in flat
    assert bronze_count(warehouse_url, "apple_music_library_tracks", "apple-cli") == 0
