"""Last.fm exports through the real loader into bronze and the staging model: every scrobble once,
whatever the format; re-imports and overlapping exports of other tools add nothing."""

from __future__ import annotations

import json

import psycopg2
import pytest

from tests import reference_lastfm as ref
from tests.lastfm.test_files import (
    EXTENDED,
    GHAN_CSV,
    RECENT,
    SINGLE,
    STATS_JSON,
    ghan_json_pages,
    lastfmstats_csv,
)
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt

USER = "lastfm-load"


def _count(conn, sql: str, *args: object) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def test_every_scrobble_once_whatever_the_export(conn, settings, tmp_path) -> None:
    samples = (STATS_JSON, GHAN_CSV, RECENT, EXTENDED, SINGLE)
    expected = {path: ref.recent_tracks_json(path) for path in (RECENT, EXTENDED, SINGLE)}
    expected[STATS_JSON] = ref.lastfmstats_json(STATS_JSON)
    expected[GHAN_CSV] = ref.ghan_csv(GHAN_CSV)
    for path in samples:
        result = load_source(conn, USER, FileSource(path))
        assert (result.status, result.inserted) == ("loaded", len(expected[path])), path.name
        if path in (RECENT, EXTENDED):
            assert any("playing at export time" in note for note in result.notes)
        if path == STATS_JSON:
            assert "Not stored (private): username." in result.message
    # the exports' owner names (lastfmstats' username, the pages' @attr user) are nowhere in bronze
    for name in ("TestUser", "Duhnnie", "SachaWheeler"):
        anywhere = "select count(*) from bronze.lastfm_scrobbles t where user_id = %s and t::text ilike %s"
        assert _count(conn, anywhere, USER, f"%{name}%") == 0, name
    events = set().union(*(set(e) for e in expected.values()))
    in_bronze = "select count(*) from bronze.lastfm_scrobbles where user_id = %s"
    assert _count(conn, in_bronze, USER) == sum(len(e) for e in expected.values()) == len(events)

    # re-importing the same bytes, or the same scrobbles exported by another tool, adds nothing
    assert load_source(conn, USER, FileSource(GHAN_CSV)).status == "already_loaded"
    pages = tmp_path / "recenttracks-SachaWheeler.json"
    pages.write_bytes(ghan_json_pages(GHAN_CSV, per_page=1000))
    stats_csv = tmp_path / "lastfmstats-TestUser.csv"
    stats_csv.write_bytes(lastfmstats_csv(json.loads(STATS_JSON.read_text())["scrobbles"]))
    for path, again in ((pages, GHAN_CSV), (stats_csv, STATS_JSON)):
        result = load_source(conn, USER, FileSource(path))
        assert (result.records, result.inserted, result.duplicates) == (
            len(expected[again]),
            0,
            len(expected[again]),
        )
    assert _count(conn, in_bronze, USER) == len(events)

    # a damaged file loads nothing of itself
    truncated = tmp_path / "lastfmstats-cut.json"
    data = STATS_JSON.read_bytes().replace(b"Clannad", b"Clannad2")
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImportProblem, match=r"lastfmstats-cut\.json"):
        load_source(conn, USER, FileSource(truncated))
    conn.rollback()
    assert _count(conn, in_bronze, USER) == len(events)

    run_dbt(settings, ["build", "--select", "stg_lastfm__scrobbles"])
    staged = "select count(*) from silver.stg_lastfm__scrobbles where user_id = %s"
    assert _count(conn, staged, USER) == len(events)
    conformed = (
        "select count(*) from silver.stg_lastfm__scrobbles where user_id = %s and service = 'lastfm' "
        "and stamp = 'start' and precision_ms = 1000 and started_at = stamped_at and platform = 'unknown'"
    )
    assert _count(conn, conformed, USER) == len(events)
    with_mbid = "select count(recording_mbid) from silver.stg_lastfm__scrobbles where user_id = %s"
    assert _count(conn, with_mbid, USER) == sum(
        map(ref.with_track_mbid, (GHAN_CSV, RECENT, EXTENDED, SINGLE))
    )
    # PostgreSQL itself keeps a scrobble once per listener (the model's unique index): a second copy is
    # refused as it is written, with no test reading the history again
    with pytest.raises(psycopg2.errors.UniqueViolation), conn.cursor() as cur:
        cur.execute(
            "insert into silver.stg_lastfm__scrobbles "
            "select * from silver.stg_lastfm__scrobbles where user_id = %s limit 1",
            (USER,),
        )
    conn.rollback()
    assert _count(conn, staged, USER) == len(events)
