"""A listener's Superset account and history, erased (users/erasure.py's `superset` step).

Superset keeps what a user did in its metadata database: the action log, SQL Lab queries, tabs and
saved queries reference the account. Those rows go first, then the account: through the REST API
when Superset runs, directly in the metadata database when it does not (nothing caches it then).
Only an account that is a listener's and nothing else is ever deleted. The chart cache is emptied.
"""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql

from tracktracker_assets.dashboards import cache
from tracktracker_assets.dashboards.config import bi_settings
from tracktracker_assets.dashboards.listeners import password_file
from tracktracker_assets.dashboards.security import LISTENER_ROLE
from tracktracker_assets.settings import Settings

MAX_DEPTH = 4  # how far rows depending on the account's rows are followed


def _connect(settings: Settings) -> Any | None:
    try:
        conn = psycopg2.connect(settings.superset_database_url)
    except psycopg2.OperationalError:
        return None
    with conn.cursor() as cur:
        cur.execute("select to_regclass('public.ab_user') is not null")
        if cur.fetchone()[0]:
            return conn
    conn.close()
    return None


def _listener_account(cur: Any, user_id: str) -> int | None:
    cur.execute(
        "select u.id, array_agg(r.name) from ab_user u left join ab_user_role ur on ur.user_id = u.id "
        "left join ab_role r on r.id = ur.role_id where u.username = %s group by u.id",
        (user_id,),
    )
    row = cur.fetchone()
    if row is None or [name for name in row[1] if name] != [LISTENER_ROLE]:
        return None
    return row[0]


def _references(cur: Any, table: str) -> list[tuple[str, str, str, bool]]:
    """(child table, child column, referenced column, child column nullable) of every single-column
    foreign key to table."""
    cur.execute(
        """
        select child.relname, catt.attname, patt.attname, not catt.attnotnull
        from pg_constraint con
        join pg_class child on child.oid = con.conrelid
        join pg_attribute catt on catt.attrelid = con.conrelid and catt.attnum = con.conkey[1]
        join pg_attribute patt on patt.attrelid = con.confrelid and patt.attnum = con.confkey[1]
        where con.contype = 'f' and con.confrelid = %s::regclass and cardinality(con.conkey) = 1
        """,
        (f"public.{table}",),
    )
    return cur.fetchall()


def _delete(cur: Any, table: str, column: str, values: list[Any], depth: int = 0) -> int:
    """Delete the rows of table whose column is one of values, and first every row depending on
    them (Superset declares no ON DELETE CASCADE)."""
    if not values or depth > MAX_DEPTH:
        return 0
    removed = 0
    for child, child_column, parent_column, _ in _references(cur, table):
        if child == table:
            continue
        cur.execute(
            sql.SQL("select distinct {} from {} where {} = any(%s)").format(
                sql.Identifier(parent_column), sql.Identifier(table), sql.Identifier(column)
            ),
            (values,),
        )
        keys = [r[0] for r in cur.fetchall() if r[0] is not None]
        removed += _delete(cur, child, child_column, keys, depth + 1)
    cur.execute(
        sql.SQL("delete from {} where {} = any(%s)").format(sql.Identifier(table), sql.Identifier(column)),
        (values,),
    )
    return removed + cur.rowcount


def purge_history(conn: Any, account_id: int) -> int:
    """Delete the rows that are the account's own (its `user_id` rows: action log, SQL Lab queries,
    tabs, saved queries, favourites, with what depends on them); unlink it from shared objects it
    created or changed (created_by_fk, changed_by_fk). Returns rows deleted."""
    removed = 0
    with conn.cursor() as cur:
        for table, column, _, nullable in _references(cur, "ab_user"):
            if table in ("ab_user", "ab_user_role"):
                continue
            if column == "user_id" or not nullable:
                removed += _delete(cur, table, column, [account_id])
            else:
                cur.execute(
                    sql.SQL("update {} set {} = null where {} = %s").format(
                        sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)
                    ),
                    (account_id,),
                )
    conn.commit()
    return removed


def erase_listener(settings: Settings, user_id: str) -> str | None:
    """The listener's stored password, Superset history and account, gone; what was done."""
    from tracktracker_assets.dashboards import listeners, provision, service

    password_file(settings, user_id).unlink(missing_ok=True)
    # chart results are cached under hashed keys: the listener's cannot be picked out, so all go
    cache.clear_chart_data(settings.home, bi_settings().cache_redis_url)
    conn = _connect(settings)
    if conn is None:
        return None  # Superset was never set up here
    try:
        with conn.cursor() as cur:
            account = _listener_account(cur, user_id)
        conn.rollback()
        if account is None:
            return None
        history = purge_history(conn, account)
        if service.is_running(settings):
            listeners.remove_listener(provision.admin_client(settings), settings, user_id)
        with conn.cursor() as cur:  # also when the API only locked it (history it still saw)
            cur.execute("delete from ab_user_role where user_id = %s", (account,))
            cur.execute("delete from ab_user where id = %s", (account,))
        conn.commit()
    finally:
        conn.close()
    return f"Superset account and {history} rows of its history deleted"
