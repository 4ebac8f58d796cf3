"""Vacuum and analyze the silver and gold tables a build has just filled.

A full build (or a large first import) writes millions of rows; autovacuum then vacuums and analyzes
them in the following minutes, and a refresh that runs meanwhile costs nearly twice as much
(bench/bench_foundation.py). Doing that work right after the build keeps every later refresh at its
steady-state cost and gives dashboards fresh statistics at once. Small refreshes touch nothing here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from psycopg2 import sql

from tracktracker_assets.services.shares import largest_first
from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connection

BULK_ROWS = 100_000  # rows written since the last vacuum that make a table worth vacuuming now
# VACUUM works through one table at a time on one core: the tables are shared among this many sessions
# (a ten-year import: its dozen tables in 1.0 s on one, less on two)
SESSIONS = 2


def vacuum_after_bulk_writes(settings: Settings, min_rows: int = BULK_ROWS) -> list[str]:
    """VACUUM (ANALYZE) every silver/gold table with at least `min_rows` rows inserted, updated or
    deleted since its last vacuum, in up to SESSIONS sessions at once; returns the tables it processed."""
    with connection(settings.database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "select schemaname, relname, pg_table_size(relid) from pg_stat_user_tables "
            "where schemaname in ('silver', 'gold') and n_ins_since_vacuum + n_dead_tup >= %s "
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


def _vacuum(url: str, tables: list[tuple[str, str, int]]) -> None:
    with connection(url, autocommit=True) as conn, conn.cursor() as cur:
        names = sql.SQL(", ").join(sql.Identifier(schema, table) for schema, table, _ in tables)
        cur.execute(sql.SQL("vacuum (analyze) {}").format(names))
