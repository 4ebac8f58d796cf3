"""`tracktracker users ...`: the registry, mirrored into the warehouse and the Dagster partitions."""

from __future__ import annotations

import shutil

from rich.console import Console

from tracktracker_assets.services.local import open_registry, start_storage
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.sync import listener_limits, sync_registry_users
from tracktracker_assets.warehouse.access import sync_listeners
from tracktracker_assets.warehouse.db import connect


def mirror_users(settings: Settings, *, refresh_roles: bool = False) -> None:
    """bronze.registry_users, the listeners' PostgreSQL roles and the `users` partitions follow the
    registry right away (the sensor would mirror users within a minute when the daemon runs).
    refresh_roles: re-apply every listener role's limits (at `up`), not only create missing ones."""
    from tracktracker_assets.runner import ensure_partitions

    with open_registry(settings) as registry:
        users = registry.list_users()
    conn = connect(settings.database_url)
    try:
        sync_registry_users(conn, users)
        sync_listeners(conn, settings, [u.user_id for u in users], listener_limits(), refresh=refresh_roles)
    finally:
        conn.close()
    ensure_partitions(settings, [u.user_id for u in users])


def add(settings: Settings, console: Console, user_id: str, display_name: str | None, timezone: str) -> None:
    start_storage(settings)
    with open_registry(settings) as registry:
        user = registry.add_user(user_id, display_name, timezone)
    mirror_users(settings)
    console.print(f"Added [bold]{user.user_id}[/] ({user.display_name}, {user.timezone}).")
    from tracktracker_assets.cli import superset as superset_cli

    superset_cli.on_user_added(settings, console, user.user_id)
    console.print(
        f"Import their Spotify export with: tracktracker import {user.user_id} PATH/TO/my_spotify_data.zip"
    )


def list_users(settings: Settings, console: Console) -> None:
    from tracktracker_assets.cli.main import print_table

    start_storage(settings)
    with open_registry(settings) as registry:
        users = registry.list_users()
    if not users:
        console.print("No users yet: add one with `tracktracker users add alice --timezone Europe/Berlin`.")
        return
    print_table(
        "Users",
        ["user", "name", "time zone", "status", "Spotify", "last pull"],
        [
            [
                u.user_id,
                u.display_name,
                u.timezone,
                u.status,
                "connected" if u.connected else "-",
                f"{u.last_pull_at:%Y-%m-%d %H:%M}" if u.last_pull_at else "-",
            ]
            for u in users
        ],
    )


def remove(settings: Settings, console: Console, user_id: str) -> None:
    """Erase a user everywhere: registry (tokens, sessions), warehouse rows, partitions, files."""
    from tracktracker_assets.runner import remove_partition
    from tracktracker_assets.transform.refresh import rebuild_global_aggregates
    from tracktracker_assets.warehouse.erase import erase_user

    start_storage(settings)
    with open_registry(settings) as registry:
        registry.require_user(user_id)
        registry.remove_user(user_id)
    conn = connect(settings.database_url)
    try:
        deleted = erase_user(conn, user_id)
    finally:
        conn.close()
    for root in (settings.inbox_root, settings.archive_root, settings.rejected_root):
        shutil.rmtree(root / user_id, ignore_errors=True)
    remove_partition(settings, user_id)
    mirror_users(settings)
    from tracktracker_assets.cli import superset as superset_cli

    superset_cli.on_user_removed(settings, console, user_id)
    with console.status("Recomputing global trends without them..."):
        rebuild_global_aggregates(settings)
    console.print(
        f"Removed [bold]{user_id}[/]: {sum(deleted.values())} rows erased "
        f"from {len(deleted)} tables, tokens and files deleted."
    )
