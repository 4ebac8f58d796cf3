"""Invariants of the warehouse beyond dbt's tests: bronze reconciles with gold, no duplicate events."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, MetadataValue, asset_check

from tracktracker_assets.orchestration.resources import WarehouseResource
from tracktracker_assets.warehouse.identity import distinct_events_sql

FCT_PLAYS = AssetKey(["gold", "fct_plays"])

RECONCILE_SQL = f"""
with bronze_extended as (
    -- distinct events per user, identified like the staging models' play_id (var event_identity)
    {distinct_events_sql("bronze.spotify_extended_history")}
),
silver as (
    select user_id, count(*) as events, count(*) filter (where source = 'spotify_extended') as extended
    from silver.int_plays__deduplicated group by user_id
),
gold as (
    select user_id, count(*) as events from gold.fct_plays group by user_id
)
select
    coalesce(b.user_id, s.user_id, g.user_id) as user_id,
    coalesce(b.events, 0) as bronze_extended_events,
    coalesce(s.extended, 0) as silver_extended_events,
    coalesce(s.events, 0) as silver_events,
    coalesce(g.events, 0) as gold_events
from bronze_extended b
full join silver s on s.user_id = b.user_id
full join gold g on g.user_id = coalesce(b.user_id, s.user_id)
"""


@asset_check(
    asset=FCT_PLAYS,
    description="Every extended-history event in bronze reaches silver once, "
    "and gold holds exactly silver's events, per user.",
)
def fct_plays_reconciles_with_bronze(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(RECONCILE_SQL)
        rows = cur.fetchall()
    mismatched = [r for r in rows if r[1] != r[2] or r[3] != r[4]]
    table = "\n".join(
        ["| user | bronze extended | silver extended | silver | gold |", "|---|---|---|---|---|"]
        + [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in (mismatched or rows)[:50]]
    )
    return AssetCheckResult(
        passed=not mismatched,
        metadata={"users": len(rows), "mismatched_users": len(mismatched), "counts": MetadataValue.md(table)},
    )


@asset_check(
    asset=FCT_PLAYS, description="No listening event appears twice (same user, end time, content, ms_played)."
)
def fct_plays_no_duplicate_events(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """
            select user_id, ended_at, track_key, ms_played, count(*)
            from gold.fct_plays
            group by user_id, ended_at, track_key, ms_played, source
            having count(*) > 1
            limit 20
            """
        )
        rows = cur.fetchall()
    return AssetCheckResult(
        passed=not rows,
        metadata={"examples": MetadataValue.md("\n".join(f"- {r}" for r in rows) or "none")},
    )


FCT_PLAY_SOURCES = AssetKey(["gold", "fct_play_sources"])

# per user: source rows in silver, their lineage rows in gold, events, and events with one winner row
LINEAGE_SQL = """
with staged as (
    select user_id, count(*) as source_rows from silver.int_plays__conformed group by user_id
),
lineage as (
    select user_id, count(*) as lineage_rows, count(*) filter (where is_winner) as winners
    from gold.fct_play_sources group by user_id
),
events as (
    select user_id, count(*) as events from gold.fct_plays group by user_id
)
select
    coalesce(s.user_id, l.user_id, e.user_id) as user_id,
    coalesce(s.source_rows, 0) as source_rows,
    coalesce(l.lineage_rows, 0) as lineage_rows,
    coalesce(e.events, 0) as events,
    coalesce(l.winners, 0) as winners
from staged s
full join lineage l on l.user_id = s.user_id
full join events e on e.user_id = coalesce(s.user_id, l.user_id)
"""


@asset_check(
    asset=FCT_PLAY_SOURCES,
    description="Every source row of silver (every service) is in gold's lineage once, "
    "and every event of fct_plays has exactly one winning row there, per user.",
)
def fct_play_sources_account_for_every_source_row(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(LINEAGE_SQL)
        rows = cur.fetchall()
    mismatched = [r for r in rows if r[1] != r[2] or r[3] != r[4]]
    table = "\n".join(
        ["| user | source rows | lineage rows | events | winners |", "|---|---|---|---|---|"]
        + [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in (mismatched or rows)[:50]]
    )
    return AssetCheckResult(
        passed=not mismatched,
        metadata={"users": len(rows), "mismatched_users": len(mismatched), "counts": MetadataValue.md(table)},
    )
