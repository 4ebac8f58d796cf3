"""Mirror the registry's users into the warehouse (bronze.registry_users: dbt reads time zones from
there), their PostgreSQL roles and the Dagster partitions."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import execute_values

from tracktracker_assets.orchestration.partition_rows import add_without_dagster
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.registry import User
from tracktracker_assets.warehouse.access import ListenerLimits, sync_listeners
from tracktracker_assets.warehouse.db import connect


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
    from tracktracker_assets.dashboards.config import bi_settings

    bi = bi_settings()
    return ListenerLimits(statement_timeout_s=bi.sqllab_timeout, connections=bi.listener_connections)


def mirror_users(settings: Settings, *, refresh_roles: bool = False) -> None:
    """bronze.registry_users, the listeners' PostgreSQL roles and the `users` partitions follow the
    registry right away (the sensor would mirror users within a minute when the daemon runs).
    refresh_roles: re-apply every listener role's limits (at `up`), not only create missing ones."""
    with open_registry(settings) as registry:
        users = registry.list_users()
    conn = connect(settings.database_url)
    try:
        sync_registry_users(conn, users)
        sync_listeners(conn, settings, [u.user_id for u in users], listener_limits(), refresh=refresh_roles)
    finally:
        conn.close()
    if not add_without_dagster(settings.dagster_database_url, [u.user_id for u in users]):
        from tracktracker_assets.orchestration.instance import get_instance
        from tracktracker_assets.orchestration.partitions import ensure_partitions

        ensure_partitions(get_instance(settings), [u.user_id for u in users])
