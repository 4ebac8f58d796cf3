"""Erasure in the warehouse: the durable erasure record, and a user's rows leaving every layer.

The record (bronze.erasures) is written before anything is erased and names the steps done so far
(tracktracker_assets/users/erasure.py runs them); an erasure cut short is found here and finished.
Once complete it keeps when and which steps ran, not whom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2 import sql

from tracktracker_assets.warehouse.locks import (
    BRONZE_LOCK_KEY,
    DBT_LOCK_KEY,
    ERASURE_LOCK_KEY,
    acquire_advisory_lock,
    transaction_lock,
)

LAYERS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class ErasureRecord:
    erasure_id: int
    user_id: str
    display_name: str | None
    requested_at: datetime
    steps_done: tuple[str, ...]


def _record(row: tuple) -> ErasureRecord:
    erasure_id, user_id, display_name, requested_at, steps = row
    return ErasureRecord(erasure_id, user_id, display_name, requested_at, tuple(steps or ()))


_COLUMNS = "erasure_id, user_id, display_name, erased_at, steps_done"


def pending_erasures(conn: Any) -> list[ErasureRecord]:
    with conn.cursor() as cur:
        cur.execute(
            f"select {_COLUMNS} from bronze.erasures "
            "where completed_at is null and user_id is not null order by erasure_id"
        )
        rows = cur.fetchall()
    conn.rollback()
    return [_record(r) for r in rows]


def pending_erasure(conn: Any, user_id: str) -> ErasureRecord | None:
    return next((e for e in pending_erasures(conn) if e.user_id == user_id), None)


def request_erasure(conn: Any, user_id: str, display_name: str | None) -> ErasureRecord:
    """The pending erasure of this user, recorded now if there is none yet. Commits."""
    with conn.cursor() as cur:
        transaction_lock(conn, ERASURE_LOCK_KEY)
        cur.execute(
            f"select {_COLUMNS} from bronze.erasures where user_id = %s and completed_at is null "
            "order by erasure_id limit 1",
            (user_id,),
        )
        row = cur.fetchone()
        if row is None:
            cur.execute(
                f"insert into bronze.erasures (user_id, display_name) values (%s, %s) returning {_COLUMNS}",
                (user_id, display_name),
            )
            row = cur.fetchone()
        elif display_name and not row[2]:
            cur.execute(
                f"update bronze.erasures set display_name = %s where erasure_id = %s returning {_COLUMNS}",
                (display_name, row[0]),
            )
            row = cur.fetchone()
    conn.commit()
    return _record(row)


def mark_step_done(conn: Any, erasure_id: int, step: str, *, commit: bool = True) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "update bronze.erasures set steps_done = array_append(steps_done, %s) "
            "where erasure_id = %s and not (%s = any(steps_done))",
            (step, erasure_id, step),
        )
    if commit:
        conn.commit()


def complete_erasure(conn: Any, erasure_id: int) -> None:
    """Close the record, forgetting whom it was about. Commits."""
    with conn.cursor() as cur:
        cur.execute(
            "update bronze.erasures set completed_at = now(), user_id = null, display_name = null "
            "where erasure_id = %s",
            (erasure_id,),
        )
    conn.commit()


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


def erase_user(
    conn: Any,
    user_id: str,
    *,
    timeout_s: float = 900,
    on_wait: Callable[[str], None] = lambda _: None,
    erasure_id: int | None = None,
    step: str = "warehouse",
) -> dict[str, int]:
    """Delete every row of the user in one transaction; returns rows deleted per table. Commits.

    Holds the dbt build lock and the bronze write lock meanwhile (waiting at most timeout_s for
    each): a build reading the user's rows, or a load writing them, cannot finish after the delete
    and bring them back. With erasure_id, the step is marked done in the same transaction.
    """
    deleted: dict[str, int] = {}
    try:
        for key, what in ((DBT_LOCK_KEY, "dbt build"), (BRONZE_LOCK_KEY, "bronze write")):
            acquire_advisory_lock(
                conn, key, what=what, timeout_s=timeout_s, transaction=True, on_wait=on_wait
            )
        with conn.cursor() as cur:
            for schema, table in tables_with_user_id(conn):
                cur.execute(
                    sql.SQL("delete from {}.{} where user_id = %s").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    ),
                    (user_id,),
                )
                if cur.rowcount:
                    deleted[f"{schema}.{table}"] = cur.rowcount
            # friendships name two listeners: the user's go whichever side they were on
            cur.execute("select to_regclass('tt_security.friendships') is not null")
            if cur.fetchone()[0]:
                cur.execute(
                    "delete from tt_security.friendships where %s in (inviter_id, invitee_id)", (user_id,)
                )
                if cur.rowcount:
                    deleted["tt_security.friendships"] = cur.rowcount
        if erasure_id is not None:
            mark_step_done(conn, erasure_id, step, commit=False)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return deleted
