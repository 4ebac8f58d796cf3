"""The bronze-write primitive on the real PostgreSQL: one writer at a time, load ids in commit order.

dbt's incremental models read bronze rows above the highest load id they have seen; that is only
safe if a load id never becomes visible after a higher one. `bronze_write` makes every writer take
the lock, then the id, inside its own transaction."""

from __future__ import annotations

import threading
import time

from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.warehouse.locks import (
    ADVISORY_LOCK_FUNCTIONS,
    BRONZE_LOCK_KEY,
    bronze_write,
    lock_holder,
    next_load_id,
)
from tracktracker_assets.warehouse.schema import migrate


def test_a_second_writer_waits_and_gets_the_next_id_after_the_first_commits(warehouse_url: str) -> None:
    first, second, watcher = (connect(warehouse_url) for _ in range(3))
    try:
        migrate(first)
        first.commit()
        first_id = bronze_write(first)
        got: list[int] = []
        writer = threading.Thread(target=lambda: got.append(bronze_write(second)))
        writer.start()
        time.sleep(0.5)
        assert got == []  # waiting for the first writer's transaction
        assert "PostgreSQL backend" in lock_holder(watcher, BRONZE_LOCK_KEY)
        first.commit()
        writer.join(timeout=10)
        assert got and got[0] > first_id
        second.rollback()
        # outside a writer's transaction the lock is free again
        assert lock_holder(watcher, BRONZE_LOCK_KEY) == "nobody any more"
        assert next_load_id(watcher) > got[0]
    finally:
        for conn in (first, second, watcher):
            conn.close()


def test_every_advisory_lock_function_is_named_and_exists(conn) -> None:
    assert len(ADVISORY_LOCK_FUNCTIONS) == 16 and len(set(ADVISORY_LOCK_FUNCTIONS)) == 16
    with conn.cursor() as cur:
        for signature in ADVISORY_LOCK_FUNCTIONS:
            cur.execute("select %s::regprocedure::text", (signature,))
            assert cur.fetchone()[0] == signature.replace(", ", ",")
