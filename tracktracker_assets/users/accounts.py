"""Listeners' accounts, everywhere at once: what the CLI, the demo, tests and benchmarks call.

The registry (MongoDB) is the source of truth; the warehouse's copy of it (bronze.registry_users),
each listener's PostgreSQL role and the Dagster `users` partitions follow it through `mirror_users`.
"""

from __future__ import annotations

from rich.console import Console

from tracktracker_assets.services.local import open_registry, start_storage
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.registry import RegistryError, User
from tracktracker_assets.users.sync import mirror_users

__all__ = [
    "add_listener",
    "change_listener",
    "connect_lastfm",
    "connect_listenbrainz",
    "disconnect",
    "list_listeners",
    "mirror_users",
    "remove_listener",
]


def add_listener(settings: Settings, user_id: str, display_name: str | None, timezone: str) -> User:
    """Register a listener and mirror them (warehouse row, PostgreSQL role, Dagster partition: the
    inbox sensor loads only the files of listeners with a partition, so their first upload on the
    web page is taken at the next tick)."""
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
    return user


def change_listener(
    settings: Settings, user_id: str, display_name: str | None, timezone: str | None
) -> tuple[User, User]:
    """Rename a listener or move their time zone: (before, after). The warehouse's copy follows at
    once; the next refresh recomputes the local days and hours of all their plays
    (warehouse/zone_moves.py)."""
    start_storage(settings)
    with open_registry(settings) as registry:
        changed = registry.change_user(user_id, display_name, timezone)
    mirror_users(settings)
    return changed


def connect_lastfm(settings: Settings, user_id: str, lastfm_user: str) -> User:
    """Pull this listener's Last.fm scrobbles from now on (the name of a public profile)."""
    start_storage(settings)
    with open_registry(settings) as registry:
        return registry.connect_lastfm(user_id, lastfm_user)


def connect_listenbrainz(
    settings: Settings, user_id: str, listenbrainz_user: str, token: str | None = None
) -> User:
    """Pull this listener's ListenBrainz listens from now on; the user token, if given, kept encrypted."""
    start_storage(settings)
    with open_registry(settings) as registry:
        return registry.connect_listenbrainz(user_id, listenbrainz_user, token)


def disconnect(settings: Settings, user_id: str, service: str) -> str | None:
    """Stop pulling this listener from a service, deleting what is kept to reach their account there;
    their plays stay. The account it named, None if none was connected."""
    start_storage(settings)
    with open_registry(settings) as registry:
        account = registry.disconnect(user_id, service)
    if service == "spotify":
        mirror_users(settings)  # a listener who had to reconnect no longer has to: the warehouse's status
    return account


def list_listeners(settings: Settings) -> list[User]:
    start_storage(settings)
    with open_registry(settings) as registry:
        return registry.list_users()


def remove_listener(settings: Settings, console: Console, user_id: str) -> str:
    """Erase a listener from every store (users/erasure.py), or finish an erasure that was cut short;
    the summary of what was erased."""
    from tracktracker_assets.users.erasure import erase, summary

    start_storage(settings)
    return summary(erase(settings, console, user_id))
