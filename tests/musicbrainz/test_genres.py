"""MusicBrainz lookups end to end: listens loaded and refreshed, the tracks Spotify's catalog leaves
without genres asked of the fake MusicBrainz (by MBID, else ISRC, else artist and title) within a
budget, resumed, never asked twice; the answers reach gold.dim_track and the genre and decade marts."""

from __future__ import annotations

import copy
import json
import zipfile
from collections import Counter
from pathlib import Path

from rich.console import Console

from tests.conftest import REAL_DATA, cli
from tests.fakes.musicbrainz_server import recording
from tests.musicbrainz.conftest import CLOSEST_S, closest_requests_s
from tracktracker_assets.musicbrainz.lookups import pending_lookups
from tracktracker_assets.orchestration.pipeline import refresh_if_behind
from tracktracker_assets.orchestration.runs import run_musicbrainz
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import connect, query

USER = "genres"
EXPORT_LINES = REAL_DATA / "other-platforms" / "metabrainz--listenbrainz_listens.jsonl"
GOLDEN_BROWN = "c7d0bf6e-b2aa-4ffa-bded-2448415b39b0"  # the real export's mbid_mapping
CALIFORNIA = "20ddea3a-1ad2-4036-9ca7-5f3383ad31c1"  # not known to the fake MusicBrainz
SHEERAN = "cb2cc207-8125-445c-9ef9-6ea44eee959a"


def _export(tmp_path: Path) -> Path:
    """The real ListenBrainz export lines (Golden Brown and California Dreamin', both with a recording
    MBID), and a listen like them that names neither recording nor ISRC (only artist and title)."""
    listens = [json.loads(line) for line in EXPORT_LINES.read_text().splitlines() if line.strip()]
    bare = copy.deepcopy(listens[0])
    bare["listened_at"] += 600
    bare["track_metadata"].update(track_name="Thinking Out Loud", artist_name="Ed Sheeran", release_name="x")
    bare["track_metadata"].pop("mbid_mapping")
    bare["track_metadata"]["additional_info"] = {"duration_ms": 281000, "submission_client": "listenbrainz"}
    archive = tmp_path / "listenbrainz_genres_1748970000.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("listens/2025/6.jsonl", "\n".join(json.dumps(item) for item in [*listens, bare]))
    return archive


def _ours(sql: str) -> list[tuple]:
    return query(get_settings().database_url, sql, (USER,))[1]


def test_genres_and_years_from_musicbrainz_reach_gold(musicbrainz, tmp_path, monkeypatch) -> None:
    musicbrainz.add(
        recording(
            GOLDEN_BROWN,
            "Golden Brown",
            "The Stranglers",
            first_release_date="1982-01",
            tags={},  # no tags on the recording: its artist's are taken
            artist_tags={"new wave": 4, "post-punk": 2, "seen live": 0},
        )
    )
    musicbrainz.add(
        recording(
            SHEERAN, "Thinking Out Loud", "Ed Sheeran", first_release_date="2014-06-20", tags={"pop": 3}
        )
    )
    code, output = cli("users", "add", USER, "--timezone", "Europe/London")
    assert code == 0, output
    code, output = cli("import", USER, str(_export(tmp_path)))
    assert code == 0, output
    lookups = dict(
        _ours("""
        select track_name, musicbrainz_lookup from gold.dim_track
        where track_key in (select track_key from gold.fct_plays where user_id = %s)
    """)
    )
    assert lookups == {
        "Golden Brown": f"mbid:{GOLDEN_BROWN}",
        "California Dreamin'": f"mbid:{CALIFORNIA}",
        "Thinking Out Loud": "search:ed sheeran\tthinking out loud",
    }

    # other tests of the session leave hundreds of tracks to look up, one second each: they are
    # parked as answered for this test (and unparked after), so that it asks only for its own
    parked = _park_others(set(lookups.values()))
    try:
        _look_up_and_refresh(musicbrainz, monkeypatch)
    finally:
        conn = connect(get_settings().database_url)
        with conn.cursor() as cur:
            cur.execute("delete from bronze.musicbrainz_recordings where lookup = any(%s)", (parked,))
        conn.commit()
        conn.close()


def _park_others(ours: set[str]) -> list[str]:
    conn = connect(get_settings().database_url)
    try:
        others = [lookup.text for lookup in pending_lookups(conn, 1_000_000) if lookup.text not in ours]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into bronze.musicbrainz_recordings (lookup, status, load_id) "
                "values (%s, 'not_found', 0)",
                [(text,) for text in others],
            )
        conn.commit()
    finally:
        conn.close()
    return others


def _look_up_and_refresh(musicbrainz, monkeypatch) -> None:
    musicbrainz.requests.clear()
    monkeypatch.setenv("TRACKTRACKER_MUSICBRAINZ_BUDGET", "2")
    first = run_musicbrainz(get_settings())
    assert first.success and first.musicbrainz["requests"] == 2 and "budget" in first.musicbrainz["note"]
    monkeypatch.setenv("TRACKTRACKER_MUSICBRAINZ_BUDGET", "50")
    for _ in range(5):  # the rest (and what other tests left pending), run after run
        run = run_musicbrainz(get_settings())
        assert run.success
        if run.musicbrainz["pending"] == 0:
            break
    again = run_musicbrainz(get_settings())
    assert again.success and again.musicbrainz["requests"] == 0  # everything is answered: nothing asked
    asked = Counter((r.path, r.query.get("query")) for r in musicbrainz.requests)
    assert asked[(f"/ws/2/recording/{GOLDEN_BROWN}", None)] == 1
    assert max(asked.values()) == 1  # never the same question twice
    assert closest_requests_s(musicbrainz) >= CLOSEST_S and all(
        r.status == 200 or r.status == 404 for r in musicbrainz.requests
    )

    assert refresh_if_behind(get_settings(), Console(quiet=True))  # a MusicBrainz answer alone is news
    tracks = {
        name: rest
        for name, *rest in _ours("""
            select track_name, genres, genres_source, release_date, release_date_source, release_year,
                   recording_mbid
            from gold.dim_track
            where track_key in (select track_key from gold.fct_plays where user_id = %s)
        """)
    }
    assert tracks["Golden Brown"] == [
        "new wave, post-punk",
        "musicbrainz",
        "1982-01",
        "musicbrainz",
        1982,
        GOLDEN_BROWN,
    ]
    assert tracks["Thinking Out Loud"] == ["pop", "musicbrainz", "2014-06-20", "musicbrainz", 2014, SHEERAN]
    # MusicBrainz does not know this recording (404): remembered, and the track stays without
    assert tracks["California Dreamin'"][:5] == [None, None, None, None, None]
    [(status,)] = query(
        get_settings().database_url,
        "select status from bronze.musicbrainz_recordings where lookup = %s",
        (f"mbid:{CALIFORNIA}",),
    )[1]
    assert status == "not_found"

    genres = dict(_ours("select genre, sum(plays) from gold.agg_genres where user_id = %s group by 1"))
    assert genres == {"new wave": 1, "post-punk": 1, "pop": 1, "(unknown genre)": 1}  # one track, two genres
    decades = dict(
        _ours("select decade_label, sum(plays) from gold.agg_release_decades where user_id = %s group by 1")
    )
    assert decades == {"1980s": 1, "2010s": 1, "(unknown decade)": 1}
