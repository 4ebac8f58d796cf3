"""Every PostgreSQL advisory lock TrackTracker takes, and the bronze-write primitive.

- One bronze writer at a time (`bronze_write`): every writer (export loads, pulls, enrichment) takes
  the lock for its transaction and the next load id under it. A writer's duplicate checks so see
  every earlier load, and load ids become visible in order, so dbt's load-id watermark can never skip
  a slower, older load.
- One dbt build at a time against a warehouse, whoever starts it (CLI, daemon, tests): two builds
  replacing the same user-days concurrently would race; a lock held by a side connection for the
  duration of the build serialises them across processes. The lock goes with its connection: a killed
  holder's backend ends when the socket closes, and the lock with it.

Waits are bounded (TRACKTRACKER_BUSY_WAIT_S) and polled, so an interrupt stops them, and a wait that
gives up names the backend holding the lock (from pg_locks and pg_stat_activity).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connect

DBT_LOCK_KEY = "tracktracker.dbt"
BRONZE_LOCK_KEY = "tracktracker.bronze.write"
ERASURE_LOCK_KEY = "tracktracker.erasure"  # one erasure recorded per user at a time
MIGRATE_LOCK_KEY = "tracktracker.bronze.migrate"  # one schema migration at a time
ACCESS_LOCK_KEY = "tracktracker.warehouse.access"  # one change to roles and grants at a time
POLL_S = 0.5

# Every advisory-lock function of PostgreSQL (listeners may call none: warehouse/access.py)
ADVISORY_LOCK_FUNCTIONS = tuple(
    f"pg_{attempt}advisory_{scope}lock{mode}({args})"
    for attempt in ("", "try_")
    for scope in ("", "xact_")
    for mode in ("", "_shared")
    for args in ("bigint", "integer, integer")
)


def transaction_lock(conn: Any, key: str) -> None:
    """Hold the advisory lock on hashtext(key) until conn's transaction ends (waiting for it)."""
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (key,))


def next_load_id(conn: Any) -> int:
    """A new load id (bronze rows carry the id of the load that wrote them)."""
    with conn.cursor() as cur:
        cur.execute("select nextval('bronze.load_id_seq')")
        return int(cur.fetchone()[0])


def bronze_write(conn: Any) -> int:
    """Become the one bronze writer until conn's transaction ends; the load id to write with."""
    transaction_lock(conn, BRONZE_LOCK_KEY)
    return next_load_id(conn)


class LockBusyError(RuntimeError):
    """An advisory lock stayed taken for longer than the wait allowed."""


def lock_holder(conn: Any, key: str) -> str:
    """Who holds the advisory lock on hashtext(key): backend pid, application, since when, doing what."""
    with conn.cursor() as cur:
        cur.execute("select hashtext(%s)::bigint", (key,))
        value = cur.fetchone()[0] & 0xFFFFFFFFFFFFFFFF
        cur.execute(
            """
            select a.pid, a.application_name, a.client_addr::text, a.backend_start, a.xact_start,
                   a.state, left(a.query, 120)
            from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'advisory' and l.granted and l.objsubid = 1
              and l.classid = %s::oid and l.objid = %s::oid
            """,
            (value >> 32, value & 0xFFFFFFFF),
        )
        rows = cur.fetchall()
    if not rows:
        return "nobody any more"
    held = []
    for pid, application, client, backend_start, xact_start, state, query in rows:
        since = (xact_start or backend_start).strftime("%Y-%m-%d %H:%M:%S UTC")
        held.append(
            f"PostgreSQL backend {pid} ({application or 'no application name'}, client "
            f"{client or 'local'}, since {since}, {state}: {query.strip()!r})"
        )
    return "; ".join(held)


def acquire_advisory_lock(
    conn: Any,
    key: str,
    *,
    what: str,
    timeout_s: float,
    transaction: bool = False,
    on_wait: Callable[[str], None] = lambda _: None,
    check_interrupt: Callable[[], None] = lambda: None,
) -> None:
    """Take the advisory lock on hashtext(key) on conn (session-level, or for the current transaction
    when `transaction`), waiting at most timeout_s; LockBusyError names the holder."""
    function = "pg_try_advisory_xact_lock" if transaction else "pg_try_advisory_lock"
    deadline = time.monotonic() + timeout_s
    told = False
    while True:
        with conn.cursor() as cur:
            cur.execute(f"select {function}(hashtext(%s))", (key,))
            if cur.fetchone()[0]:
                return
        if not told:
            on_wait(f"waiting for the {what} lock, held by {lock_holder(conn, key)}")
            told = True
        if time.monotonic() >= deadline:
            raise LockBusyError(
                f"Gave up after {timeout_s:.0f} s waiting for the {what} lock (PostgreSQL advisory lock "
                f"{key!r}), held by {lock_holder(conn, key)}. If that process is stuck, stop it "
                "(or `select pg_terminate_backend(<pid>)` as the warehouse owner). "
                "TRACKTRACKER_BUSY_WAIT_S sets how long to wait."
            )
        check_interrupt()
        time.sleep(POLL_S)


def lock_application(purpose: str, run_id: str | None = None) -> str:
    """application_name for a lock connection: says which process (and run) holds it."""
    return f"tracktracker-{purpose} pid={os.getpid()}" + (f" run={run_id[:8]}" if run_id else "")


@contextmanager
def dbt_lock(
    settings: Settings,
    *,
    run_id: str | None = None,
    on_wait: Callable[[str], None] = lambda _: None,
    check_interrupt: Callable[[], None] = lambda: None,
) -> Iterator[None]:
    conn = connect(settings.database_url, autocommit=True, application=lock_application("dbt-lock", run_id))
    try:
        acquire_advisory_lock(
            conn,
            DBT_LOCK_KEY,
            what="dbt build",
            timeout_s=settings.busy_wait_s,
            on_wait=on_wait,
            check_interrupt=check_interrupt,
        )
        yield
    finally:
        conn.close()  # releases the lock
