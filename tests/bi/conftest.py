"""Session fixtures for the BI tests: embedded PostgreSQL, scratch gold data, Superset, provisioning.

Everything is real: the PostgreSQL the project bundles, Superset under gunicorn over HTTP, Chromium.
The gold tables follow the contract of DESIGN.md §6 and are filled with a few hundred plays of three
listeners in different time zones; aggregates are computed from fct_plays so figures agree.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extras import execute_values

from tracktracker_assets.bi import provision, service
from tracktracker_assets.bi.client import SupersetClient
from tracktracker_assets.services.postgres import EmbeddedPostgres
from tracktracker_assets.settings import Settings, with_database

SCRATCH_DB = "bi_scratch"
LISTENERS = {"alice": ("Alice Liddell", "Europe/Berlin"), "bob": ("Bob Dylan-Fan", "America/New_York")}
OTHERS = {"carol": ("Carol", "UTC")}  # in gold, but never a Superset user: must stay invisible

GOLD_DDL = """
create schema if not exists gold;
create table gold.dim_user (user_id text primary key, display_name text, timezone text);
create table gold.dim_artist (artist_key text primary key, artist_name text);
create table gold.dim_album (album_key text primary key, album_name text, artist_name text);
create table gold.dim_track (track_key text primary key, track_name text, artist_name text, album_name text,
    spotify_track_uri text, content_type text);
create table gold.dim_date (date_key int primary key, date date, year int, month int, iso_week int,
    day_of_week int);
create table gold.fct_plays (
    play_id text primary key, user_id text not null, track_key text, artist_key text, album_key text,
    date_key int, ended_at timestamptz, ended_at_local timestamp, local_date date, local_hour int,
    local_weekday int, ms_played bigint, minutes_played numeric, is_counted_play bool, is_skip bool,
    content_type text, source text, platform text, conn_country text, shuffle bool, offline bool,
    session_id text);
create table gold.agg_daily_listening as
    select user_id, local_date, count(*) as plays, count(*) filter (where is_counted_play) as counted_plays,
           sum(minutes_played) as minutes_played, count(distinct track_key) as distinct_tracks,
           count(*) filter (where is_skip) as skips
    from gold.fct_plays group by user_id, local_date with no data;
create table gold.agg_hour_weekday as
    select user_id, local_weekday, local_hour, count(*) as plays, sum(minutes_played) as minutes_played
    from gold.fct_plays group by user_id, local_weekday, local_hour with no data;
"""

AGGREGATES = """
insert into gold.agg_daily_listening
    select user_id, local_date, count(*), count(*) filter (where is_counted_play), sum(minutes_played),
           count(distinct track_key), count(*) filter (where is_skip)
    from gold.fct_plays group by user_id, local_date;
insert into gold.agg_hour_weekday
    select user_id, local_weekday, local_hour, count(*), sum(minutes_played)
    from gold.fct_plays group by user_id, local_weekday, local_hour;
insert into gold.dim_date
    select distinct date_key, local_date, extract(year from local_date), extract(month from local_date),
           extract(week from local_date), extract(isodow from local_date)
    from gold.fct_plays;
"""

ARTISTS = [
    "Radiohead", "Björk", "Nina Simone", "Daft Punk", "Kendrick Lamar", "Portishead", "Aphex Twin",
    "Fleetwood Mac", "Joni Mitchell", "Massive Attack", "Sufjan Stevens", "Rosalía",
]  # fmt: skip


def create_gold(dsn: str, *, seed: int = 20261124) -> None:
    """The gold contract with plausible data: ~250-400 plays per user over ~10 weeks."""
    rng = random.Random(seed)
    users = {**LISTENERS, **OTHERS}
    artists = [(f"ar{i:02d}", name) for i, name in enumerate(ARTISTS)]
    albums = [
        (f"al{i:02d}{j}", f"{name} — Album {j + 1}", name)
        for i, (_, name) in enumerate(artists)
        for j in (0, 1)
    ]
    tracks = []
    for _, album_name, artist_name in albums:
        for n in range(3):
            key = f"tr{len(tracks):03d}"
            name = f"Song {n + 1} of {album_name}"
            tracks.append((key, name, artist_name, album_name, f"spotify:track:{key}", "track"))
    artist_of = {name: key for key, name in artists}
    album_of = {name: key for key, name, _ in albums}
    plays = []
    start = datetime(2026, 8, 1, tzinfo=UTC)
    for user_id, (_, tz) in users.items():
        zone = ZoneInfo(tz)
        favourite = rng.sample(tracks, 12)  # each listener has their own taste
        moment = start + timedelta(hours=rng.randint(0, 12))
        for session in range(rng.randint(70, 110)):
            moment += timedelta(hours=rng.uniform(4, 30))
            for _ in range(rng.randint(1, 7)):
                track = rng.choice(favourite) if rng.random() < 0.7 else rng.choice(tracks)
                ms = rng.choice(
                    [rng.randint(2_000, 29_000), rng.randint(30_000, 320_000), rng.randint(120_000, 300_000)]
                )
                moment += timedelta(milliseconds=ms + rng.randint(0, 5_000))
                local = moment.astimezone(zone).replace(tzinfo=None)
                keys = (track[0], artist_of[track[2]], album_of[track[3]])
                local_parts = (int(local.strftime("%Y%m%d")), moment, local, local.date(), local.hour)
                flags = (ms >= 30_000, ms < 30_000 and rng.random() < 0.8)
                device = (rng.choice(["android", "ios", "desktop", "web"]), rng.choice(["DE", "US", "GB"]))
                plays.append((
                    f"{user_id}-{len(plays):05d}", user_id, *keys, *local_parts, local.isoweekday(),
                    ms, round(ms / 60000, 3), *flags, "track", "extended_history", *device,
                    rng.random() < 0.4, rng.random() < 0.05, f"{user_id}-s{session:03d}",
                ))  # fmt: skip
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("drop schema if exists gold cascade")
            cur.execute(GOLD_DDL)
            execute_values(
                cur, "insert into gold.dim_user values %s", [(u, n, tz) for u, (n, tz) in users.items()]
            )
            execute_values(cur, "insert into gold.dim_artist values %s", artists)
            execute_values(cur, "insert into gold.dim_album values %s", albums)
            execute_values(cur, "insert into gold.dim_track values %s", tracks)
            execute_values(cur, "insert into gold.fct_plays values %s", plays)
            cur.execute(AGGREGATES)
            # tables outside gold that the reader role must not see
            cur.execute("create schema if not exists silver")
            cur.execute("drop table if exists silver.plays, public.secrets")
            cur.execute("create table silver.plays as select * from gold.fct_plays limit 5")
            cur.execute("create table public.secrets (name text, value text)")
            cur.execute("insert into public.secrets values ('token', 'do-not-leak')")
    finally:
        conn.close()


@dataclass
class BIStack:
    settings: Settings
    postgres: EmbeddedPostgres
    warehouse_dsn: str
    url: str
    provisioned: provision.Provisioned
    passwords: dict[str, str]
    start_seconds: dict[str, float]

    def admin(self) -> SupersetClient:
        return provision.admin_client(self.settings)

    def listener(self, user_id: str) -> SupersetClient:
        return SupersetClient(self.url, user_id, self.passwords[user_id])

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = psycopg2.connect(self.warehouse_dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        finally:
            conn.close()


def _processes_under(home: Path) -> list[str]:
    """Command lines of live processes started for this TRACKTRACKER_HOME (ours, by environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"TRACKTRACKER_HOME={home}".encode() in environ or str(home) in cmdline:
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


@pytest.fixture(scope="session")
def bi_stack() -> Iterator[BIStack]:
    # not pytest's tmp_path: its parents are 0700 and PostgreSQL runs as another user (see postgres.py)
    home = Path(tempfile.mkdtemp(prefix="tt-bi-"))
    saved = os.environ.get("TRACKTRACKER_HOME")
    os.environ["TRACKTRACKER_HOME"] = str(home)
    settings = Settings.from_env()
    postgres = EmbeddedPostgres(settings, extra_config={"fsync": "off"})
    timings: dict[str, float] = {}
    try:
        postgres.start()
        admin = psycopg2.connect(postgres.admin_dsn())
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(SCRATCH_DB)))
        admin.close()
        warehouse_dsn = with_database(settings.database_url, SCRATCH_DB)
        create_gold(warehouse_dsn)

        began = time.monotonic()
        base_url = service.start(settings)
        timings["first start"] = time.monotonic() - began
        service.stop(settings)
        began = time.monotonic()
        base_url = service.start(settings)
        timings["later start"] = time.monotonic() - began

        began = time.monotonic()
        provisioned = provision.provision(settings, warehouse_url=warehouse_dsn)
        timings["provision"] = time.monotonic() - began
        passwords = {
            user: provision.ensure_listener(user, name, settings=settings)
            for user, (name, _) in LISTENERS.items()
        }
        print(f"\nSuperset timings: {', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}")
        yield BIStack(settings, postgres, warehouse_dsn, base_url, provisioned, passwords, timings)
    finally:
        service.stop(settings)
        postgres.stop()
        if saved is None:
            os.environ.pop("TRACKTRACKER_HOME", None)
        else:
            os.environ["TRACKTRACKER_HOME"] = saved
    left = _processes_under(home)
    assert not left, f"processes left behind: {left}"
    shutil.rmtree(home, ignore_errors=True)
