"""`tracktracker friends ...`: prints what friends/consent.py does."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from tracktracker_assets.friends import consent
from tracktracker_assets.services.local import start_storage
from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connect


def _connection(settings: Settings) -> Any:
    start_storage(settings)
    return connect(settings.database_url)


def invite(settings: Settings, console: Console, user_id: str, friend_id: str) -> None:
    conn = _connection(settings)
    try:
        consent.invite(conn, user_id, friend_id)
    finally:
        conn.close()
    console.print(
        f"{user_id} invited {friend_id} to compare listening. Nothing is shown to either until they "
        f"accept: tracktracker friends accept {friend_id} {user_id}"
    )


def accept(settings: Settings, console: Console, user_id: str, inviter_id: str) -> None:
    conn = _connection(settings)
    try:
        consent.accept(conn, user_id, inviter_id)
    finally:
        conn.close()
    console.print(
        f"{user_id} and {inviter_id} now compare listening (dashboard *Compare with a friend*). Either "
        f"can stop at any time: tracktracker friends withdraw {user_id} {inviter_id}"
    )


def withdraw(settings: Settings, console: Console, user_id: str, friend_id: str) -> None:
    conn = _connection(settings)
    try:
        consent.withdraw(conn, user_id, friend_id)
    finally:
        conn.close()
    console.print(f"{user_id} and {friend_id} no longer compare; nothing of their friendship is kept.")


def list_friends(settings: Settings, console: Console, user_id: str) -> None:
    from tracktracker_assets.cli.output import print_table

    conn = _connection(settings)
    try:
        found = consent.friendships_of(conn, user_id)
    finally:
        conn.close()
    if not found:
        console.print(
            f"{user_id} has no friends or invitations yet: tracktracker friends invite {user_id} FRIEND"
        )
        return
    print_table(
        f"Friends of {user_id}",
        ["friend", "state", "invited", "accepted"],
        [
            [
                f.friend_id,
                f.state,
                f"{f.invited_at:%Y-%m-%d %H:%M}",
                f"{f.accepted_at:%Y-%m-%d %H:%M}" if f.accepted_at else "-",
            ]
            for f in found
        ],
    )
