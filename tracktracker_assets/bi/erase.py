"""A listener's Superset account and history, erased (users/erasure.py's `superset` step).

Superset keeps what a user did in its metadata database: the action log, SQL Lab queries, tabs and
saved queries reference the account. Those rows go first, then the account: through the REST API
when Superset runs, directly in the metadata database when it does not (nothing caches it then).
Only an account that is a listener's and nothing else is ever deleted.
"""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql

from tracktracker_assets.bi.listeners import password_file
from tracktracker_assets.bi.security import LISTENER_ROLE
from tracktracker_assets.settings import Settings

MAX_PASSES = 5  # rows referencing rows that reference the account are deleted in later passes


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


def _references(cur: Any) -> list[tuple[str, str, bool]]:
    """(table, column, nullable) of every foreign key to ab_user.id."""
    cur.execute(
        """
        select cl.relname, att.attname, not att.attnotnull
        from pg_constraint con
        join pg_class cl on cl.oid = con.conrelid
        join pg_attribute att on att.attrelid = con.conrelid and att.attnum = any(con.conkey)
        where con.contype = 'f' and con.confrelid = 'public.ab_user'::regclass
        """
    )
    return cur.fetchall()


def purge_history(conn: Any, account_id: int) -> int:
    """Delete the rows that are the account's own (user_id columns); unlink it from the rest."""
    removed = 0
    with conn.cursor() as cur:
        references = [r for r in _references(cur) if r[0] not in ("ab_user", "ab_user_role")]
        for _ in range(MAX_PASSES):
            failed = False
            for table, column, nullable in references:
                cur.execute("savepoint ref")
                try:
                    if column == "user_id" or not nullable:
                        cur.execute(
                            sql.SQL("delete from {} where {} = %s").format(
                                sql.Identifier(table), sql.Identifier(column)
                            ),
                            (account_id,),
                        )
                    else:
                        cur.execute(
                            sql.SQL("update {} set {} = null where {} = %s").format(
                                sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)
                            ),
                            (account_id,),
                        )
                    removed += cur.rowcount
                    cur.execute("release savepoint ref")
                except psycopg2.IntegrityError:
                    cur.execute("rollback to savepoint ref")
                    failed = True
            if not failed:
                break
    conn.commit()
    return removed


def erase_listener(settings: Settings, user_id: str) -> str | None:
    """The listener's stored password, Superset history and account, gone; what was done."""
    from tracktracker_assets.bi import listeners, provision, service

    password_file(settings, user_id).unlink(missing_ok=True)
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
        else:
            with conn.cursor() as cur:
                cur.execute("delete from ab_user_role where user_id = %s", (account,))
                cur.execute("delete from ab_user where id = %s", (account,))
            conn.commit()
    finally:
        conn.close()
    return f"Superset account and {history} rows of its history deleted"
