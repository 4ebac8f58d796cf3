"""Connections to the warehouse. Every session runs in UTC so timestamps without an offset mean UTC."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions


def connect(url: str, *, autocommit: bool = False, application: str = "tracktracker") -> Any:
    conn = psycopg2.connect(url, application_name=application, options="-c TimeZone=UTC")
    conn.autocommit = autocommit
    return conn


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[Any]:
    conn = connect(url, autocommit=autocommit)
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


@contextmanager
def ended_after_use(conn: Any) -> Iterator[Any]:
    """conn, left without a transaction after use (what its user wanted kept, it committed): a
    connection that several checks share in turn, none leaving the next a transaction open."""
    try:
        yield conn
    finally:
        conn.rollback()


@contextmanager
def lent_or_own(url: str, lent: Any | None) -> Iterator[Any]:
    """The connection a caller lent, ended after use (ended_after_use), else a connection of its own,
    closed after use."""
    if lent is not None:
        with ended_after_use(lent):
            yield lent
        return
    conn = connect(url)
    try:
        yield conn
    finally:
        conn.close()


def query(
    url: str, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run one statement; (column names, rows). Read-only callers only."""
    with connection(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        if cur.description is None:
            return [], []
        return [col.name for col in cur.description], cur.fetchall()


def table_exists(conn: Any, qualified: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (qualified,))
        return bool(cur.fetchone()[0])
