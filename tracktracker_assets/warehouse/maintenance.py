"""Vacuum and analyze the silver and gold tables a build has just filled.

A full build (or a large first import) writes millions of rows; autovacuum then vacuums and analyzes
them in the following minutes, and a refresh that runs meanwhile costs nearly twice as much
(bench/bench_foundation.py). Doing that work right after the build keeps every later refresh at its
steady-state cost and gives dashboards fresh statistics at once. Small refreshes touch nothing here.

A table no later node of the build writes (each model writes only its own) is vacuumed as soon as its
node has committed, beside the nodes after it (VacuumAsWritten): a large first import's staging table
while the dedupe, one statement on one core, leaves the other core idle. The end pass then finds only
what is left.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from psycopg2 import sql

from tracktracker_assets.services.shares import largest_first
from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connection

BULK_ROWS = 100_000  # rows written since the last vacuum that make a table worth vacuuming now
# those rows, from pg_stat_user_tables: inserted, and updated or deleted (dead)
WRITTEN_SINCE_VACUUM = "n_ins_since_vacuum + n_dead_tup"
# of a pg_stat_user_tables row: an unlogged table is a build's artefact (the dedupe's match rows:
# dbt/macros/match_rows.sql), read by a later node of the same build, analyzed by its own post-hook
# and rebuilt by the next build; vacuuming it would take a core from the build for nothing
WORTH_VACUUMING = "(select c.relpersistence from pg_class as c where c.oid = relid) = 'p'"
# VACUUM works through one table at a time on one core: the tables are shared among this many sessions
# (a ten-year import: its dozen tables in 1.0 s on one, less on two)
SESSIONS = 2


def vacuum_after_bulk_writes(settings: Settings, min_rows: int = BULK_ROWS) -> list[str]:
    """VACUUM (ANALYZE) every silver/gold table (but a build's unlogged artefacts) with at least
    `min_rows` rows inserted, updated or deleted since its last vacuum, in up to SESSIONS sessions at
    once; returns the tables it processed."""
    with connection(settings.database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "select schemaname, relname, pg_table_size(relid) from pg_stat_user_tables "
            f"where schemaname in ('silver', 'gold') and {WRITTEN_SINCE_VACUUM} >= %s and {WORTH_VACUUMING} "
            "order by 3 desc, 1, 2",
            (min_rows,),
        )
        tables = cur.fetchall()
    if not tables:  # a small refresh: nothing to vacuum
        return []
    shares = largest_first(tables, lambda table: table[2], SESSIONS)
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        for done in [pool.submit(_vacuum, settings.database_url, share) for share in shares]:
            done.result()
    return sorted(f"{schema}.{table}" for schema, table, _ in tables)


class VacuumAsWritten:
    """Vacuums (and analyzes) each table handed to it, in turn on one session of its own, while the
    caller goes on; `wait` (or leaving the `with` block) returns once each is done. One session: the
    build it runs beside keeps the cores busy but for stretches of one statement."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vacuum")
        self._pending: list[Future[None]] = []
        self.tables: list[str] = []

    def submit(self, schema: str, table: str) -> None:
        self._pending.append(self._pool.submit(_vacuum, self._url, [(schema, table, 0)]))
        self.tables.append(f"{schema}.{table}")

    def wait(self) -> list[str]:
        """The tables vacuumed; raises the first vacuum's error."""
        try:
            for done in self._pending:
                done.result()
        finally:
            self._pool.shutdown(wait=True)
        return sorted(self.tables)

    def __enter__(self) -> VacuumAsWritten:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        # a build that failed still waits (no vacuum outlives its lock); its own error is the one raised
        self._pool.shutdown(wait=True)


def _vacuum(url: str, tables: list[tuple[str, str, int]]) -> None:
    with connection(url, autocommit=True) as conn, conn.cursor() as cur:
        names = sql.SQL(", ").join(sql.Identifier(schema, table) for schema, table, _ in tables)
        cur.execute(sql.SQL("vacuum (analyze) {}").format(names))
