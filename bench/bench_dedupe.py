"""Dedupe benchmark: what folding 1,000,000 overlapping Last.fm-like plays into 1,000,000 Spotify
extended-history plays adds to the full dbt build (target: <= 30%).

    .venv/bin/python bench/bench_dedupe.py [--plays 1000000] [--users 50]

Needs a warehouse: TT_DBT_* (transform/project.py dbt_env) and DBURL in the environment. No Last.fm
play model exists in the product yet, so the benchmark builds a copy of the dbt project in a
temporary directory with one extra staging model of the conformed play contract (start-stamped,
second precision, no duration, like Last.fm scrobbles) over a scratch table, and play_sources()
returning it. Three full builds of silver and gold:

  A  Spotify only (the product as it is);
  B  Spotify + the other service, deduplicated (pairs, tiers, lineage);
  C  as B, but no row has a candidate (the union and lineage without matching).

B / A - 1 is what the second source costs in all; B / C - 1 is what matching itself costs.
Writes bench/out/dedupe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"

BENCH_MODEL = """
select
    md5(row(user_id, 'lastfm_bench', extract(epoch from scrobbled_at), artist, track)::text) as play_id,
    user_id,
    'lastfm'::text as service,
    'lastfm_bench'::text as source,
    scrobbled_at as stamped_at,
    'start'::text as stamp,
    1000 as precision_ms,
    null::timestamptz as started_at,
    null::timestamptz as ended_at,
    null::bigint as ms_played,
    null::bigint as media_duration_ms,
    {{ clean_text('track') }} as track_name,
    {{ clean_text('artist') }} as artist_name,
    {{ clean_text('album') }} as album_name,
    null::text as spotify_track_id,
    null::text as isrc,
    null::text as recording_mbid,
    null::text as service_track_id,
    'unknown'::text as platform,
    load_id
from bench.lastfm_scrobbles
"""

# Spotify: per user a sequence of plays 200 s apart (+ jitter), 5,000 tracks per user. Last.fm: 90%
# of those plays scrobbled at their start (+0..3 s, names in other case), plus 10% plays of its own.
GENERATE = """
drop schema if exists bench cascade;
create schema bench;
truncate bronze.spotify_extended_history;
insert into bronze.spotify_extended_history
    (user_id, ts, ms_played, master_metadata_track_name, master_metadata_album_artist_name,
     master_metadata_album_album_name, spotify_track_uri, platform, load_id)
select
    'u' || u,
    timestamptz '2020-01-01' + (i * 200 + (i * 7919 %% 13)) * interval '1 second',
    150000 + (i * 31 %% 50) * 1000,
    'Track ' || ((i * 2654435761::bigint + u) %% 5000),
    'Artist ' || ((i * 2654435761::bigint + u) %% 5000 %% 700),
    'Album ' || ((i * 2654435761::bigint + u) %% 5000 %% 1500),
    'spotify:track:' || lpad(((i * 2654435761::bigint + u) %% 5000)::text, 22, '0'),
    'android',
    1000 + u
from generate_series(1, %(users)s) as u, generate_series(1, %(per_user)s) as i;
create table bench.lastfm_scrobbles as
select
    'u' || u as user_id,
    case when i %% 10 = 0
        then timestamptz '2020-01-01' + (i * 200 + 100) * interval '1 second'
        else timestamptz '2020-01-01' + (i * 200 + (i * 7919 %% 13)) * interval '1 second'
            - (150000 + (i * 31 %% 50) * 1000) * interval '1 millisecond' + (i %% 4) * interval '1 second'
    end as scrobbled_at,
    upper('Track ' || ((i * 2654435761::bigint + u) %% 5000)) as track,
    'artist ' || ((i * 2654435761::bigint + u) %% 5000 %% 700) as artist,
    'Album ' || ((i * 2654435761::bigint + u) %% 5000 %% 1500) as album,
    2000 + u as load_id
from generate_series(1, %(users)s) as u, generate_series(1, %(per_user)s) as i;
analyze bronze.spotify_extended_history;
analyze bench.lastfm_scrobbles;
"""


def project_copy(with_other: bool, matching: bool) -> Path:
    target = Path(tempfile.mkdtemp(prefix="tt-bench-dbt-"))
    shutil.copytree(REPO / "dbt", target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("target", "logs"))
    if with_other:
        (target / "models" / "staging" / "lastfm").mkdir(exist_ok=True)
        (target / "models" / "staging" / "lastfm" / "stg_lastfm__bench.sql").write_text(BENCH_MODEL)
        macros = target / "macros" / "play_sources.sql"
        macros.write_text(macros.read_text().replace("return([])", "return(['stg_lastfm__bench'])", 1))
    if not matching:
        model = target / "models" / "intermediate" / "int_plays__deduplicated.sql"
        text = model.read_text().replace("where b.source_tier < a.source_tier", "where false", 1)
        model.write_text(text)
    return target


def build(project: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "dbt"),
            "run",
            "--full-refresh",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(REPO / "dbt"),
        ],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    conn = psycopg2.connect(os.environ["DBURL"])
    with conn, conn.cursor() as cur:
        cur.execute(GENERATE, {"users": args.users, "per_user": args.plays // args.users})
    conn.close()
    results = {}
    # B last: gold is left as the deduplicated build, whose events are counted below
    for name, other, matching in (
        ("A_spotify_only", False, True),
        ("C_no_matching", True, False),
        ("B_deduplicated", True, True),
    ):
        project = project_copy(other, matching)
        try:
            results[name] = round(build(project), 1)
        finally:
            shutil.rmtree(project, ignore_errors=True)
        print(name, results[name], "s", flush=True)
    conn = psycopg2.connect(os.environ["DBURL"])
    with conn, conn.cursor() as cur:
        cur.execute("select count(*), count(*) filter (where sources like '%%,%%') from gold.fct_plays")
        results["events"], results["merged_events"] = cur.fetchone()
    conn.close()
    results["B_over_A"] = round(results["B_deduplicated"] / results["A_spotify_only"] - 1, 3)
    results["B_over_C"] = round(results["B_deduplicated"] / results["C_no_matching"] - 1, 3)
    OUT.mkdir(exist_ok=True)
    (OUT / "dedupe.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
