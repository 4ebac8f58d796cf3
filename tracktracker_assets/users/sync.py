"""Mirror the registry's users into bronze.registry_users (dbt reads time zones from there)."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import execute_values

from tracktracker_assets.registry import User
from tracktracker_assets.warehouse.access import ListenerLimits


def sync_registry_users(conn: Any, users: list[User]) -> dict[str, int]:
    """Make bronze.registry_users equal the registry; returns counts of upserted and removed rows."""
    with conn.cursor() as cur:
        if users:
            execute_values(
                cur,
                """
                insert into bronze.registry_users (user_id, display_name, timezone, status, created_at)
                values %s
                on conflict (user_id) do update set
                    display_name = excluded.display_name,
                    timezone = excluded.timezone,
                    status = excluded.status,
                    synced_at = now()
                """,
                [(u.user_id, u.display_name, u.timezone, u.status, u.created_at) for u in users],
            )
        cur.execute(
            "delete from bronze.registry_users where not (user_id = any(%s))", ([u.user_id for u in users],)
        )
        removed = cur.rowcount
    conn.commit()
    return {"users": len(users), "removed": removed}


def listener_limits() -> ListenerLimits:
    """What one listener's PostgreSQL role may use: Superset's SQL Lab timeout is the statement timeout
    of every listener query (charts too), enforced by the server."""
    from tracktracker_assets.bi.config import bi_settings

    bi = bi_settings()
    return ListenerLimits(statement_timeout_s=bi.sqllab_timeout, connections=bi.listener_connections)
