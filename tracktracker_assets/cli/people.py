"""`tracktracker users ...`: prints what users/accounts.py does."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tracktracker_assets.settings import Settings
from tracktracker_assets.users.accounts import (
    add_listener,
    change_listener,
    connect_lastfm,
    connect_listenbrainz,
    disconnect,
    list_listeners,
    remove_listener,
)
from tracktracker_assets.users.registry import SERVICE_LABELS, RegistryError


def add(settings: Settings, console: Console, user_id: str, display_name: str | None, timezone: str) -> None:
    user = add_listener(settings, user_id, display_name, timezone)
    console.print(f"Added [bold]{user.user_id}[/] ({user.display_name}, {user.timezone}).")
    from tracktracker_assets.cli import superset as superset_cli

    superset_cli.on_user_added(settings, console, user.user_id)
    console.print(
        f"Import their Spotify export with: tracktracker import {user.user_id} PATH/TO/my_spotify_data.zip"
    )


def change(
    settings: Settings, console: Console, user_id: str, display_name: str | None, timezone: str | None
) -> bool:
    """Rename a listener or move their time zone; a move refreshes gold at once (their charts' days and
    hours follow it). False if that refresh failed."""
    before, after = change_listener(settings, user_id, display_name, timezone)
    if display_name:
        console.print(f"[bold]{user_id}[/] is called {after.display_name} (was {before.display_name}).")
    if not timezone:
        return True
    if after.timezone == before.timezone:
        console.print(f"[bold]{user_id}[/]'s time zone stays {after.timezone}: nothing to recompute.")
        return True
    console.print(f"[bold]{user_id}[/]'s time zone is {after.timezone} (was {before.timezone}).")
    from tracktracker_assets.orchestration.pipeline import database_errors, refresh

    with database_errors("during the refresh of silver and gold; the next refresh completes it"):
        if not refresh(settings, console):
            return False
    console.print(f"Their plays' local days and hours follow {after.timezone} everywhere now.")
    return True


def list_users(settings: Settings, console: Console) -> None:
    from tracktracker_assets.cli.output import print_table

    users = list_listeners(settings)
    if not users:
        console.print("No users yet: add one with `tracktracker users add alice --timezone Europe/Berlin`.")
        return
    print_table(
        "Users",
        ["user", "name", "time zone", "status", "Spotify", "Last.fm", "ListenBrainz", "last pull"],
        [
            [
                u.user_id,
                u.display_name,
                u.timezone,
                u.status,
                "connected" if u.connected else "-",
                u.lastfm_user or "-",
                u.listenbrainz_user or "-",
                f"{u.last_pull_at:%Y-%m-%d %H:%M}" if u.last_pull_at else "-",
            ]
            for u in users
        ],
    )


def remove(settings: Settings, console: Console, user_id: str) -> None:
    console.print(remove_listener(settings, console, user_id))


def _interval(settings: Settings) -> str:
    return (
        f"pulled every {settings.pull_interval_min} minutes while the daemon runs, or now with "
        "`tracktracker pull`"
    )


def connect_lastfm_user(settings: Settings, console: Console, user_id: str, lastfm_user: str) -> None:
    user = connect_lastfm(settings, user_id, lastfm_user)
    console.print(
        f"[bold]{user.user_id}[/]'s Last.fm scrobbles ({user.lastfm_user}) are {_interval(settings)}."
    )
    if not settings.lastfm_api_key:
        console.print(
            "[yellow]Last.fm is not configured yet:[/] set TRACKTRACKER_LASTFM_API_KEY (an API account from "
            "last.fm/api/account/create) before the pull can run."
        )


def connect_listenbrainz_user(
    settings: Settings, console: Console, user_id: str, listenbrainz_user: str, token_file: Path | None
) -> None:
    token = None
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise RegistryError(f"Cannot read the token file {token_file}: {exc.strerror}.") from None
        if not token:
            raise RegistryError(
                f"The token file {token_file} is empty: paste your user token from "
                "listenbrainz.org/settings into it."
            )
    user = connect_listenbrainz(settings, user_id, listenbrainz_user, token)
    kept = " (user token kept encrypted)" if token else ""
    console.print(
        f"[bold]{user.user_id}[/]'s ListenBrainz listens ({user.listenbrainz_user}){kept} are "
        f"{_interval(settings)}."
    )


def disconnect_user(settings: Settings, console: Console, user_id: str, service: str) -> None:
    account = disconnect(settings, user_id, service)
    name = SERVICE_LABELS[service]
    if account is None:
        console.print(f"[bold]{user_id}[/] was not connected to {name}: nothing changed.")
        return
    console.print(
        f"Disconnected [bold]{user_id}[/] from {name} ({account}): nothing more is pulled from there, and "
        "what TrackTracker kept to reach the account is deleted. The plays already loaded stay in their "
        f"history (`tracktracker users remove {user_id}` erases everything)."
    )
    if service == "spotify":
        console.print(
            "Spotify itself still lists TrackTracker among the apps with access: remove it at "
            "https://www.spotify.com/account/apps/ to revoke that too."
        )
