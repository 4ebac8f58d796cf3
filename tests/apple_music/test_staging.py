"""Apple Music's samples in bronze and through staging (dbt build of the Apple models, unit tests
included), compared with an independent reading (reference.py): plays counted once, fragments
merged, the artist of 2022+ plays recovered from the hint files, privacy values nowhere."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg2.extras
import pytest

from tests.apple_music import reference as ref
from tracktracker_assets.exports.catalogue import row_format_of
from tracktracker_assets.exports.rowformats import Head, ReadContext
from tracktracker_assets.transform.project import run_dbt
from tracktracker_assets.warehouse.db import query

MODELS = [
    "stg_apple_music__artist_hints",
    "stg_apple_music__play_activity",
    "stg_apple_music__track_play_history",
]
OLD, NEW, HISTORY = "apple-old", "apple-new", "apple-history"


def bronze_insert(conn, user_id: str, path: Path, siblings: dict[str, Path], load_id: int) -> None:
    """The rows a format reads, written to its table (the loader's job minus manifest and dedupe)."""
    data = path.read_bytes()
    fmt = row_format_of(Head(path.name, data[:65536], len(data) <= 65536))
    context = ReadContext(path.name, siblings={n: (lambda p=p: p.open("rb")) for n, p in siblings.items()})
    rows = [row for batch in fmt.read(io.BytesIO(data), context) for row in batch]
    columns = ", ".join(("user_id", "load_id", *fmt.columns))
    with conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, f"insert into {fmt.table} ({columns}) values %s", [(user_id, load_id, *r) for r in rows]
        )
    conn.commit()


@pytest.fixture(scope="module")
def apple_staging(settings, warehouse_url):
    from tracktracker_assets.warehouse.db import connect

    conn = connect(warehouse_url)
    with conn.cursor() as cur:
        cur.execute(
            "select 'delete from ' || table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = 'bronze' and table_name like 'apple_music_%'"
        )
        for (statement,) in cur.fetchall():
            cur.execute(statement + " where user_id like 'apple-%'")
    conn.commit()
    pa = {"Apple Music Play Activity.csv": ref.PLAY_ACTIVITY_NEW}
    bronze_insert(conn, OLD, ref.PLAY_ACTIVITY_OLD, {}, 9001)
    bronze_insert(conn, NEW, ref.PLAY_ACTIVITY_NEW, {}, 9002)
    bronze_insert(conn, NEW, ref.LIBRARY_2026, pa, 9003)
    bronze_insert(conn, NEW, ref.RECENT_2024, {}, 9004)
    bronze_insert(conn, NEW, ref.DAILY_2025, {}, 9005)
    bronze_insert(conn, HISTORY, ref.TRACK_PLAY_HISTORY, {}, 9006)
    # the same file a second time (a second load): still every play once
    bronze_insert(conn, HISTORY, ref.TRACK_PLAY_HISTORY, {}, 9007)
    conn.close()
    run_dbt(settings, ["build", "--select", *MODELS])
    return warehouse_url


def plays(url: str, model: str, user_id: str) -> list[tuple]:
    return query(
        url,
        f"select track_name, artist_name, album_name, started_at, ended_at, ms_played, stamped_at, stamp "
        f"from silver.{model} where user_id = %s order by stamped_at",
        (user_id,),
    )[1]


def test_play_activity_plays_as_the_reference_counts(apple_staging) -> None:
    for user_id, path in ((OLD, ref.PLAY_ACTIVITY_OLD), (NEW, ref.PLAY_ACTIVITY_NEW)):
        expected = ref.play_activity_plays(path)
        found = plays(apple_staging, "stg_apple_music__play_activity", user_id)
        assert len(found) == len(expected), path.name
        assert sorted((f[4], f[3], f[0], f[5]) for f in found) == sorted(
            (p.ended_at, p.started_at, p.song, p.ms_played) for p in expected
        )
        assert all(f[7] == "end" and f[6] == f[4] for f in found)
    merged = [p for p in ref.play_activity_plays(ref.PLAY_ACTIVITY_OLD) if p.fragments > 1]
    assert merged  # the sample does have fragments, so merging is exercised


def test_the_artist_of_2022_plays_comes_from_the_hints(apple_staging) -> None:
    expected = ref.play_activity_plays(ref.PLAY_ACTIVITY_NEW)
    left = ref.unresolved_artists(expected, ref.LIBRARY_2026, ref.RECENT_2024, ref.DAILY_2025)
    found = plays(apple_staging, "stg_apple_music__play_activity", NEW)
    assert sum(1 for f in found if f[1] is None) == left
    assert left < len(expected)
    # the old layout names its own artists: only rows Apple left without one stay without
    old = plays(apple_staging, "stg_apple_music__play_activity", OLD)
    assert sum(1 for f in old if f[1] is None) == sum(
        1 for p in ref.play_activity_plays(ref.PLAY_ACTIVITY_OLD) if not p.artist
    )


def test_track_play_history_counts_each_play_once(apple_staging) -> None:
    expected = ref.track_play_history_plays(ref.TRACK_PLAY_HISTORY)
    found = plays(apple_staging, "stg_apple_music__track_play_history", HISTORY)
    assert len(found) == len(expected)
    assert query(
        apple_staging,
        "select count(*), count(distinct play_id) from silver.stg_apple_music__track_play_history "
        "where user_id = %s",
        (HISTORY,),
    )[1] == [(len(expected), len(expected))]


def test_no_privacy_value_in_bronze(apple_staging) -> None:
    private = {"192.0.2.1", "2001:db8::1", "REDACTED", "redacted"}
    for table in (
        "apple_music_play_activity",
        "apple_music_library_tracks",
        "apple_music_recently_played",
        "apple_music_daily_tracks",
        "apple_music_track_play_history",
    ):
        [(text,)] = query(
            apple_staging,
            f"select coalesce(string_agg(t::text, E'\\n'), '') from bronze.{table} as t "
            "where user_id like 'apple-%%'",
        )[1]
        assert text, table
        assert not any(value in text for value in private), table
