"""One listener's real Spotify history, the same plays scrobbled to Last.fm and listened on
ListenBrainz, imported in every order: the same gold each time, each play once; plays only on Last.fm
or only on ListenBrainz are added.

The Last.fm and ListenBrainz files are written here from the Spotify history the way those services
record the same listening: a scrobble for each track played 30 s or more, stamped at its START, in
whole seconds, by a clock a little off Spotify's; ListenBrainz half from a scrobbler (start-stamped)
and half from its own Spotify importer (which keeps Spotify's END time and the track id).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.conftest import REAL_DATA, cli
from tests.reference import COUNTED_MS, read_events

SPOTIFY = REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Audio_2023_2.json"
ORDERS = list(itertools.permutations(("spotify", "lastfm", "listenbrainz")))


def _spotify_tracks() -> list[dict]:
    """The music plays of the history, each event once (an export can hold a record twice)."""
    events: dict[tuple, dict] = {}
    for row in json.loads(SPOTIFY.read_text()):
        if row.get("spotify_track_uri") and row.get("master_metadata_track_name"):
            events.setdefault((row["ts"], row["ms_played"], row["spotify_track_uri"]), row)
    return sorted(events.values(), key=lambda row: row["ts"])


def _ended(row: dict) -> datetime:
    return datetime.strptime(row["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# plays on one service only, at times no Spotify play is near (a night in 2019, before this history)
EXTRA_NIGHT = datetime(2019, 5, 4, 1, 0, tzinfo=UTC)
LASTFM_ONLY = [
    ("Lastfm Only Artist", f"Scrobbled Song {i}", EXTRA_NIGHT + timedelta(minutes=4 * i)) for i in range(5)
]
LISTENBRAINZ_ONLY = [
    ("Listenbrainz Only Artist", f"Listened Song {i}", EXTRA_NIGHT + timedelta(hours=2, minutes=4 * i))
    for i in range(4)
]
# on both Last.fm and ListenBrainz (ListenBrainz imported it from Last.fm): one play
ON_BOTH = [
    ("Both Artist", f"Shared Song {i}", EXTRA_NIGHT + timedelta(hours=4, minutes=4 * i)) for i in range(3)
]


def write_lastfm(path: Path) -> Path:
    """A lastfmstats.com JSON export of the same listening."""
    jitter = random.Random(1)
    scrobbles = []
    for row in _spotify_tracks():
        if row["ms_played"] < COUNTED_MS:
            continue
        start = (
            _ended(row) - timedelta(milliseconds=row["ms_played"]) + timedelta(seconds=jitter.randint(-2, 2))
        )
        scrobbles.append(
            {
                "track": row["master_metadata_track_name"],
                "artist": row["master_metadata_album_artist_name"],
                "album": row["master_metadata_album_album_name"] or "",
                "date": int(start.timestamp()) * 1000,
            }
        )
    for artist, track, start in LASTFM_ONLY + ON_BOTH:
        scrobbles.append(
            {"track": track, "artist": artist, "album": "", "date": int(start.timestamp()) * 1000}
        )
    scrobbles.sort(key=lambda s: -s["date"])  # newest first, as Last.fm lists them
    path.write_text(json.dumps({"username": "mtas", "scrobbles": scrobbles}))
    return path


def _listen(artist: str, track: str, at: datetime, info: dict) -> dict:
    return {
        "inserted_at": at.timestamp() + 30.5,
        "listened_at": int(at.timestamp()),
        "track_metadata": {"track_name": track, "artist_name": artist, "additional_info": info},
    }


def write_listenbrainz(path: Path) -> Path:
    """A ListenBrainz export's listens as JSON lines."""
    jitter = random.Random(2)
    lines = []
    for i, row in enumerate(_spotify_tracks()):
        if row["ms_played"] < COUNTED_MS:
            continue
        artist, track = row["master_metadata_album_artist_name"], row["master_metadata_track_name"]
        track_id = row["spotify_track_uri"].rsplit(":", 1)[1]
        if i % 2:  # ListenBrainz's own Spotify importer: Spotify's end time and track id
            info = {
                "music_service": "spotify.com",
                "submission_client": "listenbrainz",
                "spotify_id": f"https://open.spotify.com/track/{track_id}",
                "origin_url": f"https://open.spotify.com/track/{track_id}",
            }
            lines.append(_listen(artist, track, _ended(row), info))
        else:  # a scrobbler in the browser: the start, by its own clock
            start = (
                _ended(row)
                - timedelta(milliseconds=row["ms_played"])
                + timedelta(seconds=jitter.randint(-2, 2))
            )
            lines.append(_listen(artist, track, start, {"submission_client": "Web Scrobbler"}))
    for artist, track, start in LISTENBRAINZ_ONLY + ON_BOTH:
        lines.append(_listen(artist, track, start, {"submission_client": "Web Scrobbler"}))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def imported_in_every_order(settings, tmp_path_factory) -> list[str]:
    """Six listeners, each given the three files in another order, one file per refresh."""
    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.orchestration.pipeline import load_and_refresh

    folder = tmp_path_factory.mktemp("one-play-once")
    files = {
        "spotify": SPOTIFY,
        "lastfm": write_lastfm(folder / "lastfmstats-mtas.json"),
        "listenbrainz": write_listenbrainz(folder / "listens.jsonl"),
    }
    users = [f"order{i}" for i in range(len(ORDERS))]
    for user in users:
        code, output = cli("users", "add", user, "--timezone", "UTC")
        assert code == 0, output
    for step in range(3):
        for user, order in zip(users, ORDERS, strict=True):
            drop_into_inbox(settings, user, files[order[step]])
        assert load_and_refresh(settings, Console(quiet=True), users)
    return users


def _gold(conn, user_id: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "select p.ended_at, t.track_name, t.artist_name, p.is_counted_play, p.services "
            "from gold.fct_plays as p join gold.dim_track as t using (track_key) "
            "where p.user_id = %s order by 1, 2",
            (user_id,),
        )
        return cur.fetchall()


def test_every_order_gives_the_same_gold_each_play_once(imported_in_every_order, conn) -> None:
    spotify_events = read_events([SPOTIFY])
    expected = len(spotify_events) + len(LASTFM_ONLY) + len(LISTENBRAINZ_ONLY) + len(ON_BOTH)
    golds = [_gold(conn, user) for user in imported_in_every_order]
    extra_artists = {artist for artist, _, _ in LASTFM_ONLY + LISTENBRAINZ_ONLY + ON_BOTH}
    unmatched = [row for row in golds[0] if "spotify" not in row[4] and row[2] not in extra_artists]
    assert not unmatched, f"scrobbles of Spotify plays left as plays of their own: {unmatched}"
    assert len(golds[0]) == expected
    for order, gold in zip(ORDERS, golds, strict=True):
        assert gold == golds[0], f"gold differs when imported as {' then '.join(order)}"


def test_the_other_services_plays_are_added_and_every_source_is_kept(imported_in_every_order, conn) -> None:
    user = imported_in_every_order[0]
    with conn.cursor() as cur:
        cur.execute(
            "select t.artist_name, count(*), string_agg(distinct p.services, ';') "
            "from gold.fct_plays as p join gold.dim_track as t using (track_key) "
            "where p.user_id = %s and t.artist_name like '%% Artist' group by 1 order by 1",
            (user,),
        )
        extras = cur.fetchall()
        cur.execute(
            "select count(*) filter (where services like '%%lastfm%%' and services like '%%listenbrainz%%' "
            "and services like '%%spotify%%'), count(*) filter (where is_counted_play) "
            "from gold.fct_plays where user_id = %s",
            (user,),
        )
        on_all_three, counted = cur.fetchone()
    assert extras == [
        ("Both Artist", len(ON_BOTH), "lastfm,listenbrainz"),
        ("Lastfm Only Artist", len(LASTFM_ONLY), "lastfm"),
        ("Listenbrainz Only Artist", len(LISTENBRAINZ_ONLY), "listenbrainz"),
    ]
    scrobbled = sum(1 for e in read_events([SPOTIFY]) if e.kind == "track" and e.ms >= COUNTED_MS and e.track)
    assert on_all_three == scrobbled
    spotify_counted = sum(1 for e in read_events([SPOTIFY]) if e.ms >= COUNTED_MS)
    assert counted == spotify_counted + len(LASTFM_ONLY) + len(LISTENBRAINZ_ONLY) + len(ON_BOTH)


def _events_and_gold(conn, users: list[str]) -> tuple[str, list[list[tuple]]]:
    """The listeners' events in silver (every column but the batch that wrote them, hashed) and gold."""
    with conn.cursor() as cur:
        cur.execute(
            "select string_agg(quote_ident(column_name), ', ' order by ordinal_position) "
            "from information_schema.columns where table_schema = 'silver' "
            "and table_name = 'int_plays__deduplicated' and column_name <> '_batch_load_id'"
        )
        columns = cur.fetchone()[0]
        digest = f"md5(row({columns})::text)"
        cur.execute(
            f"select count(*) || ':' || md5(string_agg({digest}, '' order by {digest})) "
            "from silver.int_plays__deduplicated where user_id = any(%s)",
            (users,),
        )
        events = cur.fetchone()[0]
    golds = [_gold(conn, user) for user in users]
    conn.rollback()  # no lock held on what the next build replaces
    return events, golds


def test_a_whole_build_matches_the_rows_as_the_refreshes_did(imported_in_every_order, settings, conn) -> None:
    """A whole build of the same history gives the same gold as the refreshes that took it in file by
    file: the whole build's dedupe reads the rows' match fields as two models stored them beforehand
    (macros/match_rows.sql), a refresh computes them inside its own statement."""
    from tracktracker_assets.transform.project import run_dbt

    users = imported_in_every_order
    refreshed = _events_and_gold(conn, users)
    run_dbt(settings, ["build", "--full-refresh", "--exclude", "test_type:unit"])
    written = {
        result["unique_id"].rsplit(".", 1)[1]: result["adapter_response"].get("rows_affected")
        for result in json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    }
    with conn.cursor() as cur:
        # the warehouse's other listeners (other tests') are built too: theirs counted alike
        cur.execute(
            "select count(*) filter (where user_id = any(%s)), count(*) filter (where spotify_track_id "
            "is not null or isrc is not null or recording_mbid is not null or track_name is not null) "
            "from silver.int_plays__conformed where source_tier > 3",
            (users,),
        )
        ours, with_an_identity = cur.fetchone()
        cur.execute("select count(*) from silver.int_plays__matchable")
        left = cur.fetchone()[0]
        cur.execute("select count(*) from silver.int_plays__match_probes")
        left += cur.fetchone()[0]
        # autovacuum kept off them: it would vacuum and analyze a million rows again while the dedupe
        # reads them, for tables emptied once read
        cur.execute(
            "select relname, reloptions from pg_class where relnamespace = 'silver'::regnamespace "
            "and relname in ('int_plays__matchable', 'int_plays__match_probes')"
        )
        options = dict(cur.fetchall())
    scrobbled = sum(1 for e in read_events([SPOTIFY]) if e.kind == "track" and e.ms >= COUNTED_MS and e.track)
    extras = len(LASTFM_ONLY) + len(LISTENBRAINZ_ONLY) + 2 * len(ON_BOTH)
    assert ours == len(users) * (2 * scrobbled + extras)
    # each row of tiers 4+ carrying an identity stored once, and the rows they can meet beside them
    assert written["int_plays__match_probes"] == with_an_identity >= ours
    assert written["int_plays__matchable"] > ours / 2
    compiled = next(settings.dbt_target_dir.rglob("run/**/int_plays__deduplicated.sql")).read_text()
    assert re.search(r'select \* from \S+\."int_plays__match_probes"', compiled)  # read, not only declared
    # the pairs join the stored table itself, which parallel workers can read (never a CTE of it)
    assert len(re.findall(r'join \S+\."int_plays__matchable" as b', compiled)) == 4
    assert left == 0  # emptied once the dedupe has read them
    off = ["autovacuum_enabled=false"]
    assert options == {"int_plays__matchable": off, "int_plays__match_probes": off}
    assert _events_and_gold(conn, users) == refreshed
