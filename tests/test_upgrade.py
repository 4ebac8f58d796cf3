"""A warehouse built with the old dbt layout (silver.plays, silver.stg_spotify_extended, ...) upgrades:
the migration drops the old silver tables and asks for a rebuild, and the next refresh rebuilds silver
and gold from bronze to the same gold."""

from __future__ import annotations

from rich.console import Console

from tests.test_incremental import fingerprint
from tracktracker_assets.orchestration.pipeline import refresh_if_behind
from tracktracker_assets.transform.checks import RECONCILE_SQL
from tracktracker_assets.warehouse.build_state import FULL_REFRESH, get_state, set_state
from tracktracker_assets.warehouse.db import connect, query
from tracktracker_assets.warehouse.schema import migrate
from tracktracker_assets.warehouse.status import pending_bronze_load_id

# new model -> the table (or view) it was before the layout changed
RENAMED = {
    "int_plays__deduplicated": "plays",
    "stg_spotify__extended_history": "stg_spotify_extended",
    "stg_spotify__account_history": "stg_spotify_account",
    "stg_spotify__recently_played": "stg_spotify_api",
    "stg_spotify__catalog": "catalog_items",
}
NEW_VIEWS = ("stg_exports__loaded_files", "stg_spotify__recently_played_items")


def _relations(url: str, names) -> set[str]:
    rows = query(
        url,
        "select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'silver' and relname = any(%s)",
        (list(names),),
    )[1]
    return {r[0] for r in rows}


def rebuild(settings) -> None:
    """After a failure midway: silver and gold rebuilt from bronze under today's layout, so that the
    next files on this worker do not meet the old one (the old names left are never read)."""
    conn = connect(settings.database_url)
    try:
        set_state(conn, FULL_REFRESH, "test_upgrade failed midway")
    finally:
        conn.close()
    refresh_if_behind(settings, Console(quiet=True))


def test_an_old_layout_upgrades_and_refreshes_to_the_same_gold(level_gold) -> None:
    passed = False
    try:
        url = level_gold.database_url
        before = fingerprint(level_gold)
        # the old layout: silver under its old names, without the models it did not have, and play ids
        # hashed the old way (gold holds them too)
        conn = connect(url)
        try:
            with conn.cursor() as cur:
                for new, old in RENAMED.items():
                    cur.execute(f"alter table silver.{new} rename to {old}")
                cur.execute("alter view silver.stg_registry__users rename to users")
                for view in NEW_VIEWS:
                    cur.execute(f"drop view silver.{view}")
                cur.execute("update silver.plays set play_id = md5('old layout|' || play_id)")
                cur.execute("update gold.fct_plays set play_id = md5('old layout|' || play_id)")
                cur.execute("delete from bronze.schema_migrations where version = 4")
            conn.commit()
            assert fingerprint(level_gold) != before  # gold differs from what bronze gives now
            assert migrate(conn) == [4]
            assert _relations(url, [*RENAMED.values(), "users"]) == set()
            assert get_state(conn, FULL_REFRESH) is not None
            assert pending_bronze_load_id(conn) is not None  # the refresh is due although bronze is unchanged
        finally:
            conn.close()

        assert refresh_if_behind(level_gold, Console(quiet=True))

        assert fingerprint(level_gold) == before
        assert _relations(url, [*RENAMED, "stg_registry__users", *NEW_VIEWS]) == {
            *RENAMED,
            "stg_registry__users",
            *NEW_VIEWS,
        }
        conn = connect(url)
        try:
            assert get_state(conn, FULL_REFRESH) is None  # done once
            assert pending_bronze_load_id(conn) is None
            assert migrate(conn) == []
        finally:
            conn.close()
        for user_id, bronze_events, silver_extended, silver_events, gold_events in query(url, RECONCILE_SQL)[
            1
        ]:
            assert (bronze_events, silver_events) == (silver_extended, gold_events), user_id
        passed = True
    finally:
        if not passed:
            rebuild(level_gold)


def _migrate_again(conn, version: int, undo: str) -> None:
    """The warehouse as it was before migration `version` (`undo` takes its change back, and its
    version is forgotten): migrating runs exactly that migration."""
    with conn.cursor() as cur:
        cur.execute(undo)
        cur.execute("delete from bronze.schema_migrations where version = %s", (version,))
    conn.commit()
    assert migrate(conn) == [version]


def test_a_dim_track_built_before_details_load_id_gets_it_before_its_next_build(level_gold) -> None:
    """dim_track's incremental build reads details_load_id from the rows it replaces: a warehouse built
    before the column existed gets it from the migration (null: no change of genres or year known since
    the monthly aggregates were built), not from dbt's schema change, which would add it only after
    that read failed."""
    url = level_gold.database_url
    saved = query(url, "select track_key, details_load_id from gold.dim_track")[1]
    conn = connect(url)
    try:
        _migrate_again(conn, 14, "alter table gold.dim_track drop column details_load_id")
        counted = "select count(*), count(details_load_id) from gold.dim_track"
        assert query(url, counted)[1] == [(len(saved), 0)]
        assert migrate(conn) == []
    finally:
        with conn.cursor() as cur:
            cur.execute("alter table gold.dim_track add column if not exists details_load_id bigint")
            cur.execute(
                "update gold.dim_track as d set details_load_id = s.details_load_id "
                "from unnest(%s::text[], %s::bigint[]) as s (track_key, details_load_id) "
                "where d.track_key = s.track_key",
                ([k for k, _ in saved], [v for _, v in saved]),
            )
        conn.commit()
        conn.close()


def test_a_warehouse_built_before_the_fact_days_takes_them_from_its_facts(level_gold) -> None:
    """The per-user aggregates read the days they recompute from bronze.dbt_fact_days: a warehouse
    built before the table existed fills it from the facts it holds, each listener-day with the newest
    batch that wrote it, so that an aggregate behind by some batches still finds their days."""
    url = level_gold.database_url
    kept = "select user_id, local_date, batch_load_id from bronze.dbt_fact_days order by 1, 2"
    written = (
        "select user_id, local_date, max(_batch_load_id) from gold.fct_plays "
        "group by user_id, local_date order by 1, 2"
    )
    conn = connect(url)
    try:
        _migrate_again(conn, 15, "drop table bronze.dbt_fact_days")
        days = query(url, kept)[1]
        assert days and days == query(url, written)[1]
        assert migrate(conn) == []
    finally:
        conn.close()
