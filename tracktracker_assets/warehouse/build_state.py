"""What dbt builds leave in the warehouse besides data (bronze.dbt_state).

- `static_nodes`: the fingerprint of the views and static tables as last built (transform/views.py).
  Kept in the warehouse it describes, not beside the dbt project, which several warehouses share.
- `build_in_progress`: set (to the run id) before dbt starts and cleared once a build succeeded.
  Still there, it says a build was cut short (a kill, a crash, an interrupt) or failed: some models
  may be ahead of others, so the next refresh must run even if no bronze load is new, and it
  vacuums and analyzes everything (statistics of a cut build may be lost with a crash).
- `full_refresh`: set by a migration after which silver and gold must be rebuilt from bronze (a
  renamed model, a changed play id); the next build runs with --full-refresh and clears it once it
  succeeded.
- `staged_by_load`: the fingerprint of the staging models kept by load as last built by a build that
  succeeded (transform/untouched.py): while it matches, a refresh may leave out the ones no new load
  reaches; a changed model or macro runs every one once (a new column is appended when it runs).
- `built_through`: the newest bronze load that existed when the last successful build started. A
  load that adds no play (a file of artist hints, a file whose records were all known) leaves the
  models' own watermarks where they were; this says it was taken in all the same.
- `batch_taken_in:<schema>.<model>`: written by dbt itself (macros/watermark.sql), in the model's own
  transaction: the newest fact batch a listening or global model took in, which its watermark reads
  beside the batches its rows carry (a batch may leave it no row).
"""

from __future__ import annotations

from typing import Any

from tracktracker_assets.warehouse.db import table_exists

STATIC_NODES = "static_nodes"
BUILD_IN_PROGRESS = "build_in_progress"
FULL_REFRESH = "full_refresh"
BUILT_THROUGH = "built_through"
STAGED_BY_LOAD = "staged_by_load"


def get_state(conn: Any, key: str) -> str | None:
    if not table_exists(conn, "bronze.dbt_state"):
        return None
    with conn.cursor() as cur:
        cur.execute("select value from bronze.dbt_state where key = %s", (key,))
        row = cur.fetchone()
    return row[0] if row else None


def set_state(conn: Any, key: str, value: str) -> None:
    """Upsert and commit."""
    with conn.cursor() as cur:
        cur.execute(
            "insert into bronze.dbt_state (key, value) values (%s, %s) "
            "on conflict (key) do update set value = excluded.value, updated_at = now()",
            (key, value),
        )
    conn.commit()


def clear_state(conn: Any, key: str) -> None:
    with conn.cursor() as cur:
        cur.execute("delete from bronze.dbt_state where key = %s", (key,))
    conn.commit()


def unfinished_build(conn: Any) -> str | None:
    """The run id of a dbt build that started and has not finished (running now, cut short or failed)."""
    return get_state(conn, BUILD_IN_PROGRESS)


def full_refresh_pending(conn: Any) -> str | None:
    """Why the next build must rebuild everything from bronze (set by a migration), or None."""
    return get_state(conn, FULL_REFRESH)
