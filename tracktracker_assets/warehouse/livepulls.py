"""What the live pulls of Last.fm and ListenBrainz share: the outcome of one listener's pull, its fault,
and the bronze writes (items and the pull log, in one transaction under the bronze lock).

Each service's pull (lastfm/pull.py, listenbrainz/pull.py) only fetches: it turns the service's pages into
`Received` items or raises `LiveFault`. Everything else is here, so both behave alike: the newest item
already held is the lower bound of the next pull, a re-pull adds nothing (primary keys), every outcome
gets a pull-log row, and a problem stays in the registry for `tracktracker status` until a good pull.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg2.extras import execute_values
from pymongo.errors import PyMongoError

from tracktracker_assets.spotify.faults import one_line
from tracktracker_assets.users.registry import Registry, RegistryError, User
from tracktracker_assets.warehouse.locks import bronze_write

PROBLEM_STATUSES = ("failed",)


@dataclass(frozen=True)
class LiveTable:
    """A live service's bronze tables and the columns that identify an item."""

    service: str  # registry key: "lastfm" | "listenbrainz"
    items: str  # schema-qualified
    time_column: str
    key_column: str
    account_column: str
    pulls: str


@dataclass(frozen=True)
class Received:
    """One item as the service sent it, with the time and key it is stored under."""

    at: datetime
    key: str
    item: dict[str, Any]


@dataclass
class Fetched:
    items: list[Received]
    pages: int
    note: str = ""  # e.g. the page cap was reached: what was not pulled


@dataclass
class LiveOutcome:
    service: str
    user_id: str
    status: str  # ok | deferred | failed | skipped
    pages: int = 0
    items: int = 0
    inserted: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    previous_last: datetime | None = None
    retry_after_s: int | None = None
    message: str = ""
    seconds: float = 0.0

    def as_record(self) -> dict[str, Any]:
        """JSON-ready, for the run's metadata."""
        return {
            "service": self.service,
            "user_id": self.user_id,
            "status": self.status,
            "pages": self.pages,
            "items": self.items,
            "inserted": self.inserted,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "retry_after_s": self.retry_after_s,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


class LiveFault(Exception):
    """How one listener's pull ended early, in one line a person can act on."""

    def __init__(self, status: str, message: str, *, retry_after: int | None = None) -> None:
        self.status = status
        self.message = one_line(message)
        self.retry_after = retry_after
        super().__init__(self.message)


def newest_held(conn: Any, table: LiveTable, user_id: str) -> datetime | None:
    with conn.cursor() as cur:
        cur.execute(f"select max({table.time_column}) from {table.items} where user_id = %s", (user_id,))
        value = cur.fetchone()[0]
    conn.rollback()
    return value


Fetch = Callable[[User, datetime | None], Fetched]


def pull_user(
    conn: Any, registry: Registry, table: LiveTable, user_id: str, account: str | None, fetch: Fetch
) -> LiveOutcome:
    """Pull one listener and store what is new. The service's faults become the outcome, never raised."""
    started = time.monotonic()
    user = registry.get_user(user_id)
    if user is None or not account:
        return LiveOutcome(table.service, user_id, "skipped", message=f"no {table.service} account set")
    previous = newest_held(conn, table, user_id)
    try:
        fetched = fetch(user, previous)
    except LiveFault as fault:
        outcome = LiveOutcome(
            table.service,
            user_id,
            fault.status,
            retry_after_s=fault.retry_after,
            message=fault.message,
            previous_last=previous,
        )
        with contextlib.suppress(RegistryError, PyMongoError):
            registry.record_live_problem(user_id, table.service, outcome.message)
        _log(conn, table, outcome, None, str(uuid.uuid4()))
        conn.commit()
    else:
        outcome = _store(conn, table, user_id, account, fetched, previous)
        with contextlib.suppress(RegistryError, PyMongoError):  # stored and logged: bookkeeping only
            registry.record_live_pull(user_id, table.service, datetime.now(UTC))
    outcome.seconds = time.monotonic() - started
    return outcome


def _store(
    conn: Any, table: LiveTable, user_id: str, account: str, fetched: Fetched, previous: datetime | None
) -> LiveOutcome:
    received = fetched.items
    outcome = LiveOutcome(
        table.service, user_id, "ok", pages=fetched.pages, items=len(received), previous_last=previous
    )
    outcome.message = fetched.note
    if received:
        outcome.oldest = min(r.at for r in received)
        outcome.newest = max(r.at for r in received)
    pull_id = str(uuid.uuid4())
    with conn.cursor() as cur:
        load_id = bronze_write(conn)
        if received:
            # rowcount would count only the last batch of rows: count what was returned instead
            inserted = execute_values(
                cur,
                f"insert into {table.items} (user_id, {table.time_column}, {table.key_column}, "
                f"{table.account_column}, pull_id, item, load_id) values %s on conflict do nothing "
                "returning 1",
                [(user_id, r.at, r.key, account, pull_id, json.dumps(r.item), load_id) for r in received],
                page_size=1000,
                fetch=True,
            )
            outcome.inserted = len(inserted)
        _log(conn, table, outcome, load_id, pull_id)
    conn.commit()
    return outcome


def _log(conn: Any, table: LiveTable, outcome: LiveOutcome, load_id: int | None, pull_id: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"insert into {table.pulls} (pull_id, user_id, load_id, status, pages, items, inserted, "
            "oldest_at, newest_at, previous_last_at, retry_after_s, message) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                pull_id,
                outcome.user_id,
                load_id,
                outcome.status,
                outcome.pages,
                outcome.items,
                outcome.inserted,
                outcome.oldest,
                outcome.newest,
                outcome.previous_last,
                outcome.retry_after_s,
                one_line(outcome.message, 1000),
            ),
        )


def pull_many(
    user_ids: list[str],
    pull_one: Callable[[Any, str], LiveOutcome],
    *,
    service: str,
    connect_warehouse: Callable[[], Any],
    registry: Registry,
    on_outcome: Callable[[LiveOutcome], None] | None = None,
) -> list[LiveOutcome]:
    """Pull these listeners one after another on one warehouse connection; one listener's unexpected
    failure (a bug, the warehouse) is that listener's outcome, never the others'."""
    outcomes = []
    conn = connect_warehouse()
    try:
        for user_id in user_ids:
            started = time.monotonic()
            try:
                outcome = pull_one(conn, user_id)
            except Exception as exc:
                outcome = LiveOutcome(
                    service,
                    user_id,
                    "failed",
                    message=one_line(f"the pull failed: {type(exc).__name__}: {exc}"),
                )
                outcome.seconds = time.monotonic() - started
                with contextlib.suppress(Exception):
                    conn.rollback()
                with contextlib.suppress(Exception):
                    registry.record_live_problem(user_id, service, outcome.message)
                if conn.closed:
                    conn = connect_warehouse()
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    finally:
        conn.close()
    return outcomes
