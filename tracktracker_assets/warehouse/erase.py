"""Erasure: a removed user's rows leave every layer (bronze, silver, gold) in one transaction."""

from __future__ import annotations

from typing import Any

from psycopg2 import sql

LAYERS = ("bronze", "silver", "gold")


def tables_with_user_id(conn: Any) -> list[tuple[str, str]]:
    with conn.cursor() as cur:
        cur.execute(
            """
            select c.table_schema, c.table_name
            from information_schema.columns c
            join information_schema.tables t
              on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.column_name = 'user_id' and t.table_type = 'BASE TABLE'
              and c.table_schema = any(%s) and c.table_name <> 'erasures'
            order by 1, 2
            """,
            (list(LAYERS),),
        )
        return cur.fetchall()


def erase_user(conn: Any, user_id: str) -> dict[str, int]:
    """Delete every row of the user; returns rows deleted per table. Commits."""
    deleted: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('tracktracker.bronze.write'))")
        for schema, table in tables_with_user_id(conn):
            cur.execute(
                sql.SQL("delete from {}.{} where user_id = %s").format(
                    sql.Identifier(schema), sql.Identifier(table)
                ),
                (user_id,),
            )
            if cur.rowcount:
                deleted[f"{schema}.{table}"] = cur.rowcount
        cur.execute("insert into bronze.erasures (user_id) values (%s)", (user_id,))
    conn.commit()
    return deleted
