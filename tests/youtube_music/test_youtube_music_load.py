"""Takeout watch histories through the loader into bronze and silver (the session PostgreSQL): music
plays only, a plain-YouTube history loaded as empty with a note, re-imports and the same history in
the other layout changing nothing, a search history refused, and stg_youtube_music__watch_history's
plays (its unit tests run by the same dbt build)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.youtube_music.reference import REAL, html_plays, json_plays
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt

USER = "ytm-listener"
JASON = REAL / "Jason-Pallone--listen_history.extracted.json"
NIGHTMARE = REAL / "NightmareZodiac--watch-history.json"
MIXED = REAL / "metabrainz--youtubemusic.json"
PAGE = REAL / "stealthwhizz--watch-history.html"


def count(conn, sql: str) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, (USER,))
        return cur.fetchone()[0]


def test_watch_histories_end_to_end(settings, conn, tmp_path: Path) -> None:
    loaded = {p.name: load_source(conn, USER, FileSource(p)) for p in (JASON, PAGE, MIXED, NIGHTMARE)}
    assert [(r.status, r.records) for r in loaded.values()] == [
        ("loaded", 593),
        ("loaded", 126),
        ("loaded", 1),
        ("empty", 0),
    ]
    assert loaded[JASON.name].format == "youtube_music_takeout_json"
    assert loaded[PAGE.name].format == "youtube_music_takeout_html"
    assert any("holds no YouTube Music plays" in note for note in loaded[NIGHTMARE.name].notes)
    assert all(load_source(conn, USER, FileSource(p)).status == "already_loaded" for p in (JASON, NIGHTMARE))
    bronze = "select count(*) from bronze.youtube_music_watch_history where user_id = %s"
    assert count(conn, bronze) == 593 + 126 + 1

    # the same history exported again later, re-serialised: nothing new
    again = tmp_path / "watch-history.json"
    again.write_text(json.dumps(json.loads(JASON.read_text())[100:], indent=2), encoding="utf-8")
    overlap = load_source(conn, USER, FileSource(again))
    assert (overlap.status, overlap.inserted, overlap.duplicates) == ("no_new_records", 0, 493)
    assert count(conn, bronze) == 720

    search = tmp_path / "search-history.json"
    search.write_text(
        json.dumps(
            [{"header": "YouTube", "title": "Searched for sault", "time": "2024-10-23T22:09:39.117Z",
              "products": ["YouTube"], "activityControls": ["YouTube search history"]}]
        )
    )  # fmt: skip
    with pytest.raises(ImportProblem, match="YouTube search history"):
        load_source(conn, USER, FileSource(search))

    run_dbt(settings, ["build", "--select", "stg_youtube_music__watch_history"])
    expected = {
        (when.replace(microsecond=0), video)
        for when, video, _ in json_plays(JASON) + json_plays(MIXED) + html_plays(PAGE)
    }
    with conn.cursor() as cur:
        cur.execute(
            "select date_trunc('second', stamped_at), service_track_id, artist_name "
            "from silver.stg_youtube_music__watch_history where user_id = %s",
            (USER,),
        )
        plays = cur.fetchall()
    assert len(plays) == len(expected)
    assert {(p[0], p[1]) for p in plays} == expected
    assert not [p for p in plays if p[2] and p[2].endswith(" - Topic")]


def test_a_takeout_zip_loads_the_watch_history_and_skips_the_searches(conn, settings, tmp_path: Path) -> None:
    from tracktracker_assets.exports.inbox import drop_into_inbox, process_file

    archive = tmp_path / "takeout-20251208T101010Z-001.zip"
    folder = "Takeout/YouTube and YouTube Music/history"
    searches = [
        {"header": "YouTube", "title": "Searched for hanuman chalisa", "time": "2025-10-10T23:20:00.000Z",
         "products": ["YouTube"], "activityControls": ["YouTube search history"]}
    ]  # fmt: skip
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(PAGE, f"{folder}/watch-history.html")
        zf.writestr(f"{folder}/search-history.json", json.dumps(searches))
    user = "ytm-takeout"
    result = process_file(conn, settings, user, drop_into_inbox(settings, user, archive))
    assert result.ok, result.problems
    statuses = {f.name.split(":", 1)[1]: (f.status, f.records) for f in result.files}
    assert statuses == {
        f"{folder}/watch-history.html": ("loaded", len(html_plays(PAGE))),
        f"{folder}/search-history.json": ("skipped", 0),
    }
