"""One dbt build at a time against a warehouse, whoever starts it (CLI, daemon, tests).

Two builds replacing the same user-days concurrently would race; a PostgreSQL advisory lock held by
a side connection for the duration of the build serialises them across processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connect

DBT_LOCK_KEY = "tracktracker.dbt"


@contextmanager
def dbt_lock(settings: Settings) -> Iterator[None]:
    conn = connect(settings.database_url, autocommit=True, application="tracktracker-dbt-lock")
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_lock(hashtext(%s))", (DBT_LOCK_KEY,))
        yield
    finally:
        conn.close()  # releases the lock
