"""Look up on MusicBrainz the tracks the Spotify catalog gives no genres or release date.

Each question is what gold.dim_track.musicbrainz_lookup says (an MBID from ListenBrainz, an ISRC from
Deezer or the Spotify catalog, else artist and title). The answers land raw in
bronze.musicbrainz_recordings, committed one by one: at one request per second a run spends at most
settings.musicbrainz_budget requests and stops cleanly; an outage ends the run; either way the next
run resumes with what is still unanswered, and nothing answered is asked again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tracktracker_assets.musicbrainz.client import Answer, Lookup, MusicBrainzUnavailable
from tracktracker_assets.warehouse.locks import bronze_write

# known recordings first (exact), then ISRCs, then searches; the most recently played first in each
PENDING_SQL = """
    select d.musicbrainz_lookup
    from gold.dim_track as d
    where d.musicbrainz_lookup is not null
      and not exists (select 1 from bronze.musicbrainz_recordings as m where m.lookup = d.musicbrainz_lookup)
    group by d.musicbrainz_lookup
    order by
        min(case split_part(d.musicbrainz_lookup, ':', 1) when 'mbid' then 0 when 'isrc' then 1 else 2 end),
        max(d.last_played_at) desc nulls last,
        d.musicbrainz_lookup
    limit %s
"""


class Fetcher(Protocol):
    def fetch(self, lookup: Lookup) -> Answer: ...


@dataclass
class LookupOutcome:
    requests: int = 0
    found: int = 0
    not_found: int = 0
    pending_after: int = 0  # known still unanswered (at most one more than could be asked)
    seconds: float = 0.0
    message: str = ""


def pending_lookups(conn: Any, limit: int) -> list[Lookup]:
    from tracktracker_assets.warehouse.db import table_exists

    if limit <= 0 or not table_exists(conn, "gold.dim_track"):
        return []
    with conn.cursor() as cur:
        cur.execute(PENDING_SQL, (limit,))
        found = [Lookup(row[0]) for row in cur.fetchall()]
    conn.rollback()
    return found


def store(conn: Any, lookup: Lookup, answer: Answer) -> None:
    with conn.cursor() as cur:
        load_id = bronze_write(conn)
        cur.execute(
            "insert into bronze.musicbrainz_recordings (lookup, status, payload, load_id) "
            "values (%s, %s, %s, %s) on conflict (lookup) do nothing",
            (
                lookup.text,
                answer.status,
                json.dumps(answer.payload) if answer.payload is not None else None,
                load_id,
            ),
        )
    conn.commit()


def look_up(conn: Any, client: Fetcher, *, budget: int) -> LookupOutcome:
    """Ask for at most `budget` pending lookups, storing each answer as it arrives."""
    started = time.monotonic()
    outcome = LookupOutcome()
    pending = pending_lookups(conn, budget + 1)  # one more: says whether the budget leaves some behind
    for lookup in pending[:budget]:
        outcome.requests += 1
        try:
            answer = client.fetch(lookup)
        except MusicBrainzUnavailable as exc:
            outcome.message = f"{exc}; the next run resumes"
            break
        store(conn, lookup, answer)
        if answer.status == "ok":
            outcome.found += 1
        else:
            outcome.not_found += 1
    answered = outcome.found + outcome.not_found
    outcome.pending_after = len(pending) - answered
    if not outcome.message and outcome.pending_after:
        outcome.message = f"request budget of {budget} spent; the next run resumes"
    outcome.seconds = time.monotonic() - started
    return outcome
