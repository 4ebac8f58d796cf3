"""An independent recount of what two friends' comparison shows, in plain Python from gold.fct_plays
(the views compute it from first_plays_by_artist): counted plays per music artist, the top 50 of each,
cosine similarity, whose first play came first."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

TOP_N = 50
NO_FRIEND = "No friend has accepted yet"
Query = Callable[[str, Any], list[tuple]]


def listening(q: Query) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, object]]]:
    """Per listener: counted plays per music artist, and the first play of each, from fct_plays.
    Plays whose export names no artist share the unknown artist's key, which is nobody to compare
    (its type in dim_artist is that of whichever such play came last, of any listener: a track's
    makes it an 'artist', so it is left out by its key)."""
    rows = q(
        "select f.user_id, f.artist_key, count(*) filter (where f.is_counted_play), min(f.ended_at) "
        "from gold.fct_plays f join gold.dim_artist a using (artist_key) "
        "where a.artist_type = 'artist' and f.artist_key <> md5('unknown') group by 1, 2",
        (),
    )
    plays: dict[str, dict[str, int]] = {}
    first: dict[str, dict[str, object]] = {}
    for user, artist, counted, first_at in rows:
        if counted:
            plays.setdefault(user, {})[artist] = counted
            first.setdefault(user, {})[artist] = first_at
    return plays, first


def top(counts: dict[str, int]) -> dict[str, int]:
    ordered = sorted(counts, key=lambda a: (-counts[a], a))[:TOP_N]
    return {a: rank for rank, a in enumerate(ordered, start=1)}


def recount(q: Query, one: str, other: str) -> dict:
    """The comparison of one with other, as the views should show it to one."""
    plays, first = listening(q)
    mine, theirs = plays[one], plays[other]
    dot = sum(n * theirs[a] for a, n in mine.items() if a in theirs)
    norm = math.sqrt(sum(n * n for n in mine.values())) * math.sqrt(sum(n * n for n in theirs.values()))
    my_top, their_top = top(mine), top(theirs)

    def who(artist: str) -> str:
        mine_at, theirs_at = first[one][artist], first[other][artist]
        return "you" if mine_at < theirs_at else "friend" if theirs_at < mine_at else "both"

    shared = [(a, my_top[a], their_top[a], who(a)) for a in my_top.keys() & their_top.keys()]
    return {
        "affinity": round(100 * dot / norm),
        "shared_artists": len(mine.keys() & theirs.keys()),
        "shared": sorted(shared, key=lambda s: s[1]),
    }


def accepted_friends(q: Query, user: str) -> list[tuple[str, str, object]]:
    """(friend id, display name, accepted at) of the user's accepted friendships."""
    return q(
        "select case when f.inviter_id = %(user)s then f.invitee_id else f.inviter_id end as friend, "
        "u.display_name, f.accepted_at from tt_security.friendships f "
        "join bronze.registry_users u "
        "on u.user_id = case when f.inviter_id = %(user)s then f.invitee_id else f.inviter_id end "
        "where f.accepted_at is not null and %(user)s in (f.inviter_id, f.invitee_id)",
        {"user": user},
    )
