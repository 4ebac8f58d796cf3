"""`tracktracker users ...`: prints what users/accounts.py does."""

from __future__ import annotations

from rich.console import Console

from tracktracker_assets.settings import Settings
from tracktracker_assets.users.accounts import add_listener, list_listeners, remove_listener


def add(settings: Settings, console: Console, user_id: str, display_name: str | None, timezone: str) -> None:
    user = add_listener(settings, user_id, display_name, timezone)
    console.print(f"Added [bold]{user.user_id}[/] ({user.display_name}, {user.timezone}).")
    from tracktracker_assets.cli import superset as superset_cli

    superset_cli.on_user_added(settings, console, user.user_id)
    console.print(
        f"Import their Spotify export with: tracktracker import {user.user_id} PATH/TO/my_spotify_data.zip"
    )


def list_users(settings: Settings, console: Console) -> None:
    from tracktracker_assets.cli.output import print_table

    users = list_listeners(settings)
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
    console.print(remove_listener(settings, console, user_id))
