"""One play, once: Spotify's three sources of the same plays, loaded into bronze and built by the real
refresh, are one event each in gold, and gold's lineage (fct_play_sources) accounts for every source
row of every listener exactly once. The matching rules themselves (other services, repeats, precision,
stamps) are dbt unit tests beside int_plays__deduplicated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

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


def _erase_probe(url: str) -> None:
    """Leave the warehouse as a full build from bronze would: erasure removes every row with the
    probe's user_id; the dimensions have none, and keep the probe's own entities (Probe Artist) until
    deleted here."""
    keys = query(
        url,
        "select array_agg(distinct track_key), array_agg(distinct artist_key), array_agg(distinct album_key) "
        "from gold.fct_plays where user_id = %s",
        (PROBE,),
    )[1][0]
    conn = connect(url)
    try:
        erase_user(conn, PROBE)
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


def test_lineage_holds_every_source_row_once(real_gold) -> None:
    url = real_gold.database_url
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
