"""Questions about the warehouse's state that sensors, checks and `status` ask."""

from __future__ import annotations

from typing import Any

from tracktracker_assets.warehouse.build_state import (
    BUILT_THROUGH,
    full_refresh_pending,
    get_state,
    unfinished_build,
)
from tracktracker_assets.warehouse.db import table_exists

# the bronze tables whose loads bring or change plays: every file (one row per load, whatever its
# format), each live pull's items (a pull writes no loaded_files row), and a listener's move to another
# time zone (their plays' local days change). A source missing here would never start a refresh: its
# plays would reach gold only with someone's next file.
PLAY_LOAD_TABLES = (
    "bronze.loaded_files",
    "bronze.spotify_recently_played",
    "bronze.lastfm_recent_tracks",
    "bronze.listenbrainz_api_listens",
    "bronze.registry_users",
)
# the newest load of those tables (each max is one probe of its load_id index)
NEWEST_PLAY_LOAD = "select greatest({})".format(
    ", ".join(f"(select coalesce(max(load_id), 0) from {table})" for table in PLAY_LOAD_TABLES)
)
# who holds those tables' loads newer than %(seen)s
PENDING_PLAY_USERS = " union ".join(
    f"select user_id from {table} where load_id > %(seen)s" for table in PLAY_LOAD_TABLES
)
# bronze tables and the silver model whose load-id watermark says how far dbt has read them
FOLLOWERS = (
    (NEWEST_PLAY_LOAD, "silver.int_plays__deduplicated", "_batch_load_id"),
    (
        "select coalesce(max(load_id), 0) from bronze.spotify_catalog",
        "silver.stg_spotify__catalog",
        "load_id",
    ),
    (
        "select coalesce(max(load_id), 0) from bronze.musicbrainz_recordings",
        "silver.stg_musicbrainz__recordings",
        "load_id",
    ),
)


def _scalar(conn: Any, sql: str) -> int:
    with conn.cursor() as cur:
        cur.execute(sql)
        return int(cur.fetchone()[0] or 0)


def newest_play_load(conn: Any) -> int:
    return _scalar(conn, NEWEST_PLAY_LOAD)


def built_through(conn: Any) -> int:
    """The newest bronze load the last successful build took in (0: none recorded)."""
    return int(get_state(conn, BUILT_THROUGH) or 0)


def plays_seen(conn: Any) -> int:
    """The newest play load silver and gold have taken in: the dedupe's watermark, or a later load that
    brought no play (built_through); 0 before the first build."""
    model = "silver.int_plays__deduplicated"
    if not table_exists(conn, model):
        return 0
    return max(_scalar(conn, f"select coalesce(max(_batch_load_id), 0) from {model}"), built_through(conn))


def pending_bronze_load_id(conn: Any) -> int | None:
    """The newest bronze load silver and gold have not taken in yet, or None when they are current.

    After a build that was cut short, silver may be current while gold is not: then the newest load.
    """
    pending = None
    try:
        # a build cut short, or a rebuild an upgrade asked for: every load counts as pending
        unfinished = unfinished_build(conn) is not None or full_refresh_pending(conn) is not None
        for newest_sql, model, column in FOLLOWERS:
            newest = _scalar(conn, newest_sql)
            if newest == 0:
                continue
            if unfinished:
                pending = max(pending or 0, newest)
                continue
            seen = (
                _scalar(conn, f"select coalesce(max({column}), 0) from {model}")
                if table_exists(conn, model)
                else 0
            )
            if newest_sql == NEWEST_PLAY_LOAD:  # a load without plays moves no model's watermark
                seen = max(seen, built_through(conn))
            if newest > seen:
                pending = max(pending or 0, newest)
    finally:
        conn.rollback()
    return pending


def details_pending(conn: Any) -> bool:
    """Whether bronze holds catalog details (Spotify's catalog, MusicBrainz's answers) that silver has
    not taken in: the next build changes names, genres or release years on anyone's charts."""
    try:
        for newest_sql, model, column in FOLLOWERS:
            if newest_sql == NEWEST_PLAY_LOAD:
                continue
            seen = (
                _scalar(conn, f"select coalesce(max({column}), 0) from {model}")
                if table_exists(conn, model)
                else 0
            )
            if _scalar(conn, newest_sql) > seen:
                return True
        return False
    finally:
        conn.rollback()


# from this many new rows, a batch is built anew (every model, --full-refresh) instead of incrementally
# when the rows it reaches (its own, and the plays already built in the span of time it covers) outnumber
# twice the rows it leaves untouched. An incremental build replaces what it reaches row by row, at
# about 1.5 times a full build's cost a row, which writes each table once: measured on whole imports,
# a listener's million scrobbles folded into their million Spotify plays (reaching all 2,000,000)
# 59.7 s anew against 88.9-93.0 s incrementally; half as many scrobbles, over the first half of those
# plays (1,000,000 reached of 1,500,000), 60.3 s against 60.8 s, the break-even; ten years (200,000
# plays) beside 20,000, 11.7, 13.8 s against 13.7, 13.8 s. Below REBUILD_FROM_ROWS new rows a full
# build's fixed part (every view and static table) weighs more.
REBUILD_FROM_ROWS = 100_000

# per listener, the rows of the files built so far that the files loaded since reach: a built file's
# rows (`inserted`) in the share of its span that the new files of the same listener cover (rows taken
# as spread evenly over a file's span; a file of one moment is reached whole or not). A file's span is
# that of the rows it brought (inserted_min_ts, inserted_max_ts), not of all its records: a listener's
# whole history downloaded again reaches only the days of its new plays.
REACHED_ROWS = """
with files as (
    select load_id, user_id, inserted, inserted_min_ts as min_ts, inserted_max_ts as max_ts
    from bronze.loaded_files
    where inserted > 0
),
new_files as (
    select * from files where load_id > %(seen)s
),
built_files as (
    select * from files where load_id <= %(seen)s
),
reached as (
    select b.inserted * least(1.0, sum(
        case when b.max_ts > b.min_ts
            then extract(epoch from least(b.max_ts, n.max_ts) - greatest(b.min_ts, n.min_ts))
                / extract(epoch from b.max_ts - b.min_ts)
            else 1.0
        end)) as rows
    from built_files as b
    join new_files as n on n.user_id = b.user_id and n.min_ts <= b.max_ts and n.max_ts >= b.min_ts
    group by b.load_id, b.inserted
)
select
    (select coalesce(sum(inserted), 0) from new_files),
    (select coalesce(sum(inserted), 0) from built_files),
    (select coalesce(round(sum(rows)), 0) from reached)
"""


def batch_outweighs_history(conn: Any, min_rows: int = REBUILD_FROM_ROWS) -> str | None:
    """Why the files loaded since the last build are better built anew, or None: at least `min_rows`
    new plays, which with the plays already built that they reach (REACHED_ROWS) outnumber twice the
    plays they leave untouched. Live pulls, a few rows each, do not count."""
    try:
        if not table_exists(conn, "silver.int_plays__deduplicated"):
            return None  # a first build is a full one anyway
        seen = plays_seen(conn)
        with conn.cursor() as cur:
            cur.execute(REACHED_ROWS, {"seen": seen})
            pending, built, reached = (int(value) for value in cur.fetchone())
    finally:
        conn.rollback()
    untouched = built - reached
    if pending < min_rows or pending + reached <= 2 * untouched:
        return None
    return (
        f"{pending:,} new plays reaching {reached:,} of the {built:,} built before them: "
        f"more than twice the {untouched:,} they leave untouched"
    )


def users_with_pending_loads(conn: Any) -> set[str]:
    """The listeners whose bronze holds loads silver and gold have not taken in yet: whose gold the
    next build changes (after a build cut short, or before a rebuild, every loaded listener)."""
    try:
        everyone = unfinished_build(conn) is not None or full_refresh_pending(conn) is not None
        seen = 0 if everyone else plays_seen(conn)
        with conn.cursor() as cur:
            cur.execute(PENDING_PLAY_USERS, {"seen": seen})
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.rollback()
