"""Vacuum and analyze the silver and gold tables a build has just filled.

A full build (or a large first import) writes millions of rows; autovacuum then vacuums and analyzes
them in the following minutes, and a refresh that runs meanwhile costs nearly twice as much
(bench/bench_foundation.py). Doing that work right after the build keeps every later refresh at its
steady-state cost and gives dashboards fresh statistics at once. Small refreshes touch nothing here.
"""

from __future__ import annotations

from psycopg2 import sql

from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connection

BULK_ROWS = 100_000  # rows written since the last vacuum that make a table worth vacuuming now


def vacuum_after_bulk_writes(settings: Settings, min_rows: int = BULK_ROWS) -> list[str]:
    """VACUUM (ANALYZE) every silver/gold table with at least `min_rows` rows inserted, updated or
    deleted since its last vacuum; returns the tables it processed."""
    with connection(settings.database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "select schemaname, relname from pg_stat_user_tables "
            "where schemaname in ('silver', 'gold') and n_ins_since_vacuum + n_dead_tup >= %s "
            "order by 1, 2",
            (min_rows,),
        )
        tables = cur.fetchall()
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(schema, table) for schema, table in tables)
            cur.execute(sql.SQL("vacuum (analyze) {}").format(names))
    return [f"{schema}.{table}" for schema, table in tables]
