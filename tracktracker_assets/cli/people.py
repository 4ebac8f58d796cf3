"""`tracktracker users ...`: the registry, mirrored into the warehouse and the Dagster partitions."""

from __future__ import annotations

from rich.console import Console

from tracktracker_assets.registry import RegistryError
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
    from tracktracker_assets.users.erasure import pending_user_ids

    start_storage(settings)
    if user_id in pending_user_ids(settings):
        raise RegistryError(
            f"The erasure of {user_id!r} was cut short and is not finished: run "
            f"`tracktracker users remove {user_id}` to finish it, then add them again."
        )
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
    """Erase a user everywhere (users/erasure.py), or finish an erasure of them that was cut short."""
    from tracktracker_assets.users.erasure import erase, summary

    start_storage(settings)
    console.print(summary(erase(settings, console, user_id)))
