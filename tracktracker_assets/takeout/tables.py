"""Which tables hold a listener's data, and the query that reads only theirs.

Found in the catalog, not listed: every bronze and gold relation with a user_id column (the raw
records of every source and live pull; plays with their lineage, sessions, aggregates, rankings) is
read `where user_id = %(user)s`; gold's catalog dimensions (dim_track, dim_artist, dim_album) are
shared, so only the rows the listener's plays refer to are read, and only the columns a listener may
read (the others say what other listeners did: dbt/macros/row_security.sql). Cross-listener tables
(global_*), the calendar (dim_date) and the erasure log are nobody's data and stay out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

from tracktracker_assets.warehouse.access import LISTENER_GROUP
from tracktracker_assets.warehouse.dimensions import SHARED_DIMENSIONS

NOBODYS = {"erasures"}  # bronze.erasures: the log of erasures, kept for the platform's own records


@dataclass(frozen=True)
class Table:
    schema: str  # bronze or gold
    name: str
    query: sql.Composed  # this listener's rows; parameter %(user)s

    @property
    def member(self) -> str:
        return f"{self.schema}/{self.name}"


def _personal(conn: Any, schema: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            """
            select c.table_name
            from information_schema.columns as c
            where c.table_schema = %s and c.column_name = 'user_id'
            order by c.table_name
            """,
            (schema,),
        )
        return [name for (name,) in cur.fetchall() if name not in NOBODYS]


def listener_tables(conn: Any) -> list[Table]:
    """Every bronze and gold relation with this listener's rows (gold's plays first), and the
    dimensions their plays refer to."""
    raw = sql.SQL("select * from bronze.{} where user_id = %(user)s")
    tables = [Table("bronze", name, raw.format(sql.Identifier(name))) for name in _personal(conn, "bronze")]
    own = sql.SQL("select * from gold.{} where user_id = %(user)s order by 1, 2, 3")
    tables += [
        Table("gold", name, own.format(sql.Identifier(name)))
        for name in sorted(_personal(conn, "gold"), key=lambda n: (n != "fct_plays", n))
    ]
    for name, key in SHARED_DIMENSIONS.items():
        columns = sql.SQL(", ").join(sql.Identifier("d", c) for c in _readable_by_listeners(conn, name))
        tables.append(
            Table(
                "gold",
                name,
                sql.SQL(
                    "select {} from gold.{} as d where d.{} in "
                    "(select p.{} from gold.fct_plays as p where p.user_id = %(user)s) order by 1"
                ).format(columns, sql.Identifier(name), sql.Identifier(key), sql.Identifier(key)),
            )
        )
    return tables


def _readable_by_listeners(conn: Any, dimension: str) -> list[str]:
    """The dimension's columns PostgreSQL lets a listener read, in table order."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select a.attname
            from pg_attribute as a
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
                and has_column_privilege(%s, a.attrelid, a.attnum, 'select')
            order by a.attnum
            """,
            (f"gold.{dimension}", LISTENER_GROUP),
        )
        columns = [name for (name,) in cur.fetchall()]
    if not columns:
        raise RuntimeError(f"gold.{dimension} is missing, or no listener may read it: rebuild gold first.")
    return columns
