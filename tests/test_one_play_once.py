"""One play, once: Spotify's three sources of the same plays, loaded into bronze and built by the real
refresh, are one event each in gold, and gold's lineage (fct_play_sources) accounts for every source
row of every listener exactly once. The matching rules themselves (other services, repeats, precision,
stamps) are dbt unit tests beside int_plays__deduplicated."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.conftest import history_files_of
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.orchestration.pipeline import refresh_if_behind
from tracktracker_assets.transform.checks import LINEAGE_SQL
from tracktracker_assets.warehouse.db import connect, query
from tracktracker_assets.warehouse.erase import erase_user

PROBE = "dedupe-probe"
START = datetime(2021, 3, 14, 9, 0, tzinfo=UTC)
# (end of playback, ms_played, track, Spotify track id): the 2nd is the 1st played again right after
PLAYS = [
    (START + timedelta(seconds=200), 200_000, "Probe Song", "0000000000000000000001"),
    (START + timedelta(seconds=400), 200_000, "Probe Song", "0000000000000000000001"),
    (START + timedelta(seconds=700), 250_000, "Other Probe Song", "0000000000000000000002"),
]
API_ONLY = (START + timedelta(hours=2), 180_000, "Api Only Probe Song", "0000000000000000000003")


def _api_item(played_at: datetime, ms: int, name: str, track_id: str) -> str:
    return json.dumps(
        {
            "played_at": played_at.isoformat(),
            "track": {
                "uri": f"spotify:track:{track_id}",
                "name": name,
                "duration_ms": ms,
                "artists": [{"name": "Probe Artist"}],
                "album": {"name": "Probe Album"},
            },
        }
    )


def _load_probe(url: str) -> dict[str, int]:
    """The plays in the extended history; the two first in the account data (minute precision) and
    in the Web API (the end half a second later), plus a play only the API saw. Load id per table."""
    conn = connect(url)
    loads = {}
    try:
        with conn.cursor() as cur:
            for table in ("spotify_extended_history", "spotify_account_history", "spotify_recently_played"):
                cur.execute("select nextval('bronze.load_id_seq')")
                loads[table] = cur.fetchone()[0]
            for ended, ms, name, track_id in PLAYS:
                cur.execute(
                    "insert into bronze.spotify_extended_history (user_id, ts, ms_played, "
                    "master_metadata_track_name, master_metadata_album_artist_name, "
                    "master_metadata_album_album_name, spotify_track_uri, platform, load_id) "
                    "values (%s, %s, %s, %s, 'Probe Artist', 'Probe Album', %s, 'android', %s)",
                    (PROBE, ended, ms, name, f"spotify:track:{track_id}", loads["spotify_extended_history"]),
                )
            for ended, ms, name, _ in PLAYS[:2]:
                cur.execute(
                    "insert into bronze.spotify_account_history (user_id, end_time, ms_played, "
                    "artist_name, track_name, load_id) values (%s, %s, %s, 'Probe Artist', %s, %s)",
                    (PROBE, ended.replace(second=0), ms, name, loads["spotify_account_history"]),
                )
            table = "spotify_recently_played"
            for ended, ms, name, track_id in [
                (e + timedelta(milliseconds=500), m, n, t) for e, m, n, t in PLAYS[:2]
            ] + [API_ONLY]:
                cur.execute(
                    "insert into bronze.spotify_recently_played (user_id, played_at, track_id, pull_id, "
                    "item, load_id) values (%s, %s, %s, 'probe', %s, %s)",
                    (PROBE, ended, track_id, _api_item(ended, ms, name, track_id), loads[table]),
                )
        conn.commit()
    finally:
        conn.close()
    return loads


def test_spotify_sources_of_one_play_are_one_event_with_full_lineage(real_gold) -> None:
    url = real_gold.database_url
    loads = _load_probe(url)
    try:
        assert refresh_if_behind(real_gold, Console(quiet=True))
        events = query(
            url,
            "select ms_played, is_ms_played_estimated, service, services, source, sources "
            "from gold.fct_plays where user_id = %s order by ended_at",
            (PROBE,),
        )[1]
        three = "spotify_account,spotify_api,spotify_extended"
        assert events == [
            (200_000, False, "spotify", "spotify", "spotify_extended", three),
            (200_000, False, "spotify", "spotify", "spotify_extended", three),  # the repeat stays a play
            (250_000, False, "spotify", "spotify", "spotify_extended", "spotify_extended"),
            # the API's estimate: min(its duration, time since the previous play)
            (180_000, True, "spotify", "spotify", "spotify_api", "spotify_api"),
        ]
        lineage = query(
            url,
            "select s.source, s.load_id, s.is_winner, count(*) from gold.fct_play_sources as s "
            "join gold.fct_plays as p on p.play_id = s.play_id and p.user_id = s.user_id "
            "where s.user_id = %s group by 1, 2, 3 order by 1, 3",
            (PROBE,),
        )[1]
        assert lineage == [
            ("spotify_account", loads["spotify_account_history"], False, 2),
            ("spotify_api", loads["spotify_recently_played"], False, 2),
            ("spotify_api", loads["spotify_recently_played"], True, 1),
            ("spotify_extended", loads["spotify_extended_history"], True, 3),
        ]
    finally:
        _erase_probe(url)


def _erase_probe(url: str, user_id: str = PROBE) -> None:
    """Leave the warehouse as a full build from bronze would: erasure removes every row with the
    probe's user_id; the dimensions have none, and keep the probe's own entities (Probe Artist) until
    deleted here."""
    keys = query(
        url,
        "select array_agg(distinct track_key), array_agg(distinct artist_key), array_agg(distinct album_key) "
        "from gold.fct_plays where user_id = %s",
        (user_id,),
    )[1][0]
    conn = connect(url)
    try:
        erase_user(conn, user_id)
        with conn.cursor() as cur:
            for dimension, key, probe_keys in zip(
                ("dim_track", "dim_artist", "dim_album"),
                ("track_key", "artist_key", "album_key"),
                keys,
                strict=True,
            ):
                cur.execute(
                    f"delete from gold.{dimension} as d where d.{key} = any(%s) and not exists "
                    f"(select 1 from gold.fct_plays as p where p.{key} = d.{key})",
                    (probe_keys or [],),
                )
        conn.commit()
    finally:
        conn.close()


def test_lineage_holds_every_source_row_once(level_gold) -> None:
    url = level_gold.database_url
    per_user = query(url, LINEAGE_SQL)[1]
    assert sum(r[1] for r in per_user) > 40_000
    for user_id, source_rows, lineage_rows, events, winners in per_user:
        assert (source_rows, events) == (lineage_rows, winners), user_id
    [(distinct_rows, lineage_rows, orphans, wrong_sources)] = query(
        url,
        """
        select
            (select count(distinct source_play_id) from gold.fct_play_sources),
            (select count(*) from gold.fct_play_sources),
            (select count(*) from gold.fct_play_sources as s
             where not exists (select 1 from gold.fct_plays as p where p.play_id = s.play_id)),
            (select count(*) from gold.fct_plays as p
             where p.sources <> (select string_agg(distinct s.source, ',' order by s.source)
                                 from gold.fct_play_sources as s where s.play_id = p.play_id))
        """,
    )[1]
    assert distinct_rows == lineage_rows
    assert (orphans, wrong_sources) == (0, 0)


MIXED = "dedupe-mixed"


def _spotify_and_scrobbles(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    """A real extended-history file's first 400 track plays (artist names prefixed, so that the
    probe's tracks are its own), and the Last.fm export (lastfm.ghan.nl CSV, the layout of the real
    SachaWheeler sample) a scrobbler would have made of them: every play of 30 s or more, stamped
    with its start (Spotify's end minus ms_played) to the second, newest first."""
    source = next(p for p in history_files_of("Efrrowini") if "Audio" in p.name or "endsong" in p.name)
    records = [r for r in json.loads(source.read_text()) if r.get("master_metadata_track_name")][:400]
    for r in records:
        r["master_metadata_album_artist_name"] = "E2E " + (r["master_metadata_album_artist_name"] or "")
    spotify = tmp_path / "Streaming_History_Audio_probe.json"
    spotify.write_text(json.dumps(records))
    scrobbles = []
    for r in records:
        if r["ms_played"] < 30_000:
            continue
        ended = datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        started = int((ended - timedelta(milliseconds=r["ms_played"])).timestamp())
        scrobbles.append((started, r))
    scrobbles.sort(key=lambda s: -s[0])
    lastfm = _write_ghan(
        tmp_path / "scrobbles.csv",
        [
            (
                uts,
                r["master_metadata_album_artist_name"],
                r["master_metadata_album_album_name"] or "",
                r["master_metadata_track_name"],
            )
            for uts, r in scrobbles
        ],
    )
    return spotify, lastfm, records


def _write_ghan(path: Path, scrobbles: list[tuple[int, str, str, str]]) -> Path:
    """A lastfm.ghan.nl CSV (quoted, CRLF) of (start as epoch seconds, artist, album, track), in the
    order given."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(
            ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]
        )
        for uts, artist, album, track in scrobbles:
            when = datetime.fromtimestamp(uts, UTC).strftime("%d %b %Y, %H:%M")
            writer.writerow([uts, when, artist, "", album, "", track, ""])
    return path


@pytest.mark.parametrize("candidates", ["stored", "read at each use"])
def test_a_spotify_history_and_its_scrobbles_count_each_play_once(
    real_gold, tmp_path: Path, monkeypatch, candidates: str
) -> None:
    """Also as a large batch (TRACKTRACKER_DEDUPE_LARGE_BATCH_ROWS): the dedupe then reads its candidates
    at each use instead of storing them, and must find the same events."""
    if candidates == "read at each use":
        monkeypatch.setenv("TRACKTRACKER_DEDUPE_LARGE_BATCH_ROWS", "1")
    url = real_gold.database_url
    spotify, lastfm, records = _spotify_and_scrobbles(tmp_path)
    # independent reading: Spotify's events (distinct by what identifies one), scrobbles, counted plays
    events = {
        (r["ts"], r["ms_played"], r["spotify_track_uri"], r["master_metadata_track_name"]) for r in records
    }
    scrobbled = {e for e in events if e[1] >= 30_000}
    counted = sum(1 for e in events if e[1] >= 30_000)
    conn = connect(url)
    try:
        for path in (spotify, lastfm):
            load_source(conn, MIXED, FileSource(path))
    finally:
        conn.close()
    try:
        assert refresh_if_behind(real_gold, Console(quiet=True))
        compiled = max(
            real_gold.dbt_target_dir.rglob("compiled/**/int_plays__deduplicated.sql"),
            key=lambda path: path.stat().st_mtime,
        ).read_text()
        assert ("candidates as not materialized (" in compiled) == (candidates == "read at each use")
        [(gold_events, gold_counted, both, lastfm_only, total_ms)] = query(
            url,
            "select count(*), count(*) filter (where is_counted_play), "
            "count(*) filter (where services = 'lastfm,spotify' and source = 'spotify_extended'), "
            "count(*) filter (where service = 'lastfm'), sum(ms_played) "
            "from gold.fct_plays where user_id = %s",
            (MIXED,),
        )[1]
        assert (gold_events, gold_counted, both, lastfm_only) == (len(events), counted, len(scrobbled), 0)
        assert total_ms == sum(e[1] for e in events)  # Spotify's measured durations, nothing added
        lineage = dict(
            query(
                url,
                "select service, count(*) from gold.fct_play_sources where user_id = %s group by 1",
                (MIXED,),
            )[1]
        )
        assert lineage == {"spotify": len(events), "lastfm": len(scrobbled)}
    finally:
        _erase_probe(url, MIXED)


# as many listeners as a global ranking needs (global_min_users), each with the same night
MIDNIGHT = ["dedupe-midnight-1", "dedupe-midnight-2", "dedupe-midnight-3"]


def _midnight_files(tmp_path: Path, ended: datetime) -> tuple[Path, Path]:
    """Spotify's record of one play ending at `ended`, after 100 s, and its scrobble (ghan CSV)."""
    record = {
        "ts": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": "android",
        "ms_played": 100_000,
        "conn_country": "DE",
        "master_metadata_track_name": "Midnight Probe Song",
        "master_metadata_album_artist_name": "Midnight Probe Artist",
        "master_metadata_album_album_name": "Midnight Probe Album",
        "spotify_track_uri": "spotify:track:0000000000000000000042",
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "incognito_mode": False,
    }
    spotify = tmp_path / "Streaming_History_Audio_2007.json"
    spotify.write_text(json.dumps([record]))
    started = int((ended - timedelta(milliseconds=100_000)).timestamp()) + 1  # the scrobbler's clock
    lastfm = _write_ghan(
        tmp_path / "scrobbles.csv",
        [(started, "Midnight Probe Artist", "Midnight Probe Album", "Midnight Probe Song")],
    )
    return spotify, lastfm


def test_a_play_across_midnight_scrobbled_first_counts_once(real_gold, tmp_path: Path) -> None:
    """The listeners' only play of the night starts at 23:59 on a Sunday and ends after midnight. Its
    scrobble, stamped with the start, comes in first and is a play of its own on Sunday; Spotify's
    export then brings the same play, on Monday. The scrobble joins Spotify's event, which leaves
    Sunday, and its week, with no play at all: the refresh must take the scrobble's play out of that
    day and week everywhere, as a full build from bronze would have none."""
    url = real_gold.database_url
    ended = datetime(2007, 6, 3, 23, 59, tzinfo=UTC) + timedelta(
        seconds=100
    )  # a Sunday, before every real export
    monday = ended.date()
    spotify, lastfm = _midnight_files(tmp_path, ended)
    try:
        for path in (lastfm, spotify):
            conn = connect(url)
            try:
                for user in MIDNIGHT:
                    load_source(conn, user, FileSource(path))
            finally:
                conn.close()
            assert refresh_if_behind(real_gold, Console(quiet=True))
        for user in MIDNIGHT:
            plays = "select ended_at::date, services, source from gold.fct_plays where user_id = %s"
            assert query(url, plays, (user,))[1] == [(monday, "lastfm,spotify", "spotify_extended")]
            lineage = "select service, is_winner from gold.fct_play_sources where user_id = %s order by 1"
            assert query(url, lineage, (user,))[1] == [("lastfm", False), ("spotify", True)]
            for daily in ("agg_daily_listening", "agg_services_daily"):
                days = f"select local_date, plays from gold.{daily} where user_id = %s"
                assert query(url, days, (user,))[1] == [(monday, 1)], daily
        weeks = (
            "select week_start, entity_type, listeners from gold.global_rank_weekly "
            "where week_start < '2008-01-01' order by 1, 2"
        )
        assert query(url, weeks)[1] == [(monday, "artist", 3), (monday, "track", 3)]
    finally:
        for user in MIDNIGHT:
            _erase_probe(url, user)
        conn = connect(url)
        try:
            with conn.cursor() as cur:  # the shared ranking, as a full build without the probes has it
                cur.execute("delete from gold.global_rank_weekly where week_start < '2008-01-01'")
            conn.commit()
        finally:
            conn.close()
