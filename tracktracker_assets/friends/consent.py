"""Consent to compare: a listener invites another, the other accepts, either withdraws at any time.

Rows live in tt_security.friendships (warehouse/access.py), which no listener role can read or write:
only this module changes them. Gold's comparison views (dbt/models/marts/friends/) show a listener the
comparison with a friend only while an accepted friendship exists, so acceptance shows it at once and
withdrawal hides it at once; withdrawing deletes the row, and nothing of the friendship is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class FriendshipError(RuntimeError):
    """A request the consent rules refuse; the message says what and what to do instead."""


@dataclass(frozen=True)
class Friendship:
    """One of a listener's friendships, seen from that listener."""

    friend_id: str
    invited_by_me: bool
    invited_at: datetime
    accepted_at: datetime | None

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        return "invited, waiting for them" if self.invited_by_me else "invited you, waiting for you"


def _require_listener(cur: Any, user_id: str) -> None:
    # every registered listener has a warehouse role (users add), and comparing needs one
    cur.execute("select 1 from tt_security.listener_roles where user_id = %s", (user_id,))
    if cur.fetchone() is None:
        raise FriendshipError(f"Unknown user {user_id!r}: `tracktracker users list` shows who is registered.")


def _between(cur: Any, one: str, other: str) -> tuple[str, str, datetime | None] | None:
    cur.execute(
        "select inviter_id, invitee_id, accepted_at from tt_security.friendships "
        "where (inviter_id, invitee_id) in ((%s, %s), (%s, %s)) for update",
        (one, other, other, one),
    )
    return cur.fetchone()


def invite(conn: Any, user_id: str, friend_id: str) -> Friendship:
    """user_id invites friend_id to compare. Nothing is shown to either until friend_id accepts. Commits."""
    if user_id == friend_id:
        raise FriendshipError(f"{user_id!r} cannot invite themselves: name another listener.")
    try:
        with conn.cursor() as cur:
            _require_listener(cur, user_id)
            _require_listener(cur, friend_id)
            found = _between(cur, user_id, friend_id)
            if found is not None:
                inviter, _, accepted_at = found
                if accepted_at is not None:
                    raise FriendshipError(f"{user_id!r} and {friend_id!r} are already comparing.")
                if inviter == user_id:
                    raise FriendshipError(
                        f"{user_id!r} has already invited {friend_id!r}; they accept with "
                        f"`tracktracker friends accept {friend_id} {user_id}`."
                    )
                raise FriendshipError(
                    f"{friend_id!r} has already invited {user_id!r}: accept with "
                    f"`tracktracker friends accept {user_id} {friend_id}`."
                )
            cur.execute(
                "insert into tt_security.friendships (inviter_id, invitee_id) values (%s, %s) "
                "returning invited_at",
                (user_id, friend_id),
            )
            (invited_at,) = cur.fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return Friendship(friend_id, True, invited_at, None)


def accept(conn: Any, user_id: str, inviter_id: str) -> Friendship:
    """user_id accepts inviter_id's invitation: from now both see their comparison. Commits."""
    try:
        with conn.cursor() as cur:
            _require_listener(cur, user_id)
            _require_listener(cur, inviter_id)
            found = _between(cur, user_id, inviter_id)
            if found is None or found[0] != inviter_id:
                raise FriendshipError(
                    f"{inviter_id!r} has not invited {user_id!r}: nothing to accept. "
                    f"`tracktracker friends list {user_id}` shows the invitations waiting."
                )
            if found[2] is not None:
                raise FriendshipError(f"{user_id!r} and {inviter_id!r} are already comparing.")
            cur.execute(
                "update tt_security.friendships set accepted_at = now() "
                "where inviter_id = %s and invitee_id = %s returning invited_at, accepted_at",
                (inviter_id, user_id),
            )
            invited_at, accepted_at = cur.fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return Friendship(inviter_id, False, invited_at, accepted_at)


def withdraw(conn: Any, user_id: str, friend_id: str) -> None:
    """Either side ends the friendship (or declines or takes back an invitation): the row is deleted,
    and the comparison disappears for both at once. Commits."""
    try:
        with conn.cursor() as cur:
            _require_listener(cur, user_id)
            cur.execute(
                "delete from tt_security.friendships where (inviter_id, invitee_id) in ((%s, %s), (%s, %s))",
                (user_id, friend_id, friend_id, user_id),
            )
            if cur.rowcount == 0:
                raise FriendshipError(
                    f"{user_id!r} has no friendship or invitation with {friend_id!r}: nothing to withdraw. "
                    f"`tracktracker friends list {user_id}` shows them."
                )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def friendships_of(conn: Any, user_id: str) -> list[Friendship]:
    """The listener's friendships and invitations (either way), oldest first."""
    with conn.cursor() as cur:
        _require_listener(cur, user_id)
        cur.execute(
            "select case when inviter_id = %(me)s then invitee_id else inviter_id end, "
            "inviter_id = %(me)s, invited_at, accepted_at from tt_security.friendships "
            "where %(me)s in (inviter_id, invitee_id) order by invited_at",
            {"me": user_id},
        )
        rows = cur.fetchall()
    conn.rollback()
    return [Friendship(*row) for row in rows]
