"""A dbt thread's connection kept from one node to the next (transform/kept_connections.py), on the real
warehouse and dbt-postgres's own connection manager: the next node gets the same backend, left as a new
connection would be (no transaction, none of the last node's uncommitted writes or temporary tables);
a connection that cannot be reset is closed, and the next node opens a new one."""

from __future__ import annotations

import multiprocessing
import types
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tracktracker_assets.transform.kept_connections import keep_connections_between_nodes
from tracktracker_assets.warehouse.db import connect

PROBE = "public.kept_connection_probe"


@pytest.fixture
def manager(warehouse_url: str) -> Iterator[object]:
    """dbt-postgres's connection manager for the warehouse, as a dbt thread holds it, with the patch."""
    from dbt.adapters.postgres import PostgresCredentials
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    keep_connections_between_nodes()
    url = urlparse(warehouse_url)
    credentials = PostgresCredentials(
        host=url.hostname,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.path.lstrip("/"),
        schema="public",
    )
    profile = types.SimpleNamespace(credentials=credentials, threads=1, query_comment=None)
    owner = connect(warehouse_url, autocommit=True)
    with owner.cursor() as cur:
        cur.execute(f"create table {PROBE} (x int)")
    connections = PostgresConnectionManager(profile, multiprocessing.get_context("spawn"))
    try:
        yield connections
    finally:
        connections.cleanup_all()
        with owner.cursor() as cur:
            cur.execute(f"drop table {PROBE}")
        owner.close()


def one(connections, sql: str):
    return connections.execute(sql, fetch=True)[1].rows[0]


def test_the_next_node_gets_the_same_connection_as_a_new_one_would_be(manager) -> None:
    manager.set_connection_name("model.tracktracker.a")
    manager.begin()
    manager.execute("create temp table tt_probe as select 1 as x")
    manager.execute(f"insert into {PROBE} values (1)")  # never committed: dbt closed such a connection
    [backend] = one(manager, "select pg_backend_pid()")
    manager.release()

    manager.set_connection_name("model.tracktracker.b")
    assert manager.get_if_exists().transaction_open is False
    row = one(
        manager, f"select pg_backend_pid(), to_regclass('pg_temp.tt_probe'), (select count(*) from {PROBE})"
    )
    assert tuple(row) == (backend, None, 0)
    manager.release()


def test_a_node_that_failed_leaves_a_working_connection(manager) -> None:
    manager.set_connection_name("model.tracktracker.a")
    manager.begin()
    [backend] = one(manager, "select pg_backend_pid()")
    with pytest.raises(Exception, match="division by zero"):
        manager.execute("select 1 / 0")  # the transaction is aborted: every statement now fails
    manager.release()

    manager.set_connection_name("model.tracktracker.b")
    assert tuple(one(manager, "select pg_backend_pid(), 2")) == (backend, 2)
    manager.release()


def test_a_connection_that_cannot_be_reset_is_closed_and_the_next_opens_anew(manager, warehouse_url) -> None:
    manager.set_connection_name("model.tracktracker.a")
    [backend] = one(manager, "select pg_backend_pid()")
    owner = connect(warehouse_url, autocommit=True)
    with owner.cursor() as cur:
        cur.execute("select pg_terminate_backend(%s)", (backend,))
    owner.close()
    manager.release()
    assert manager.get_if_exists().state == "closed"

    manager.set_connection_name("model.tracktracker.b")
    [other] = one(manager, "select pg_backend_pid()")
    assert other != backend
    manager.release()


def test_a_nodes_statistics_are_published_when_it_is_done(manager, warehouse_url) -> None:
    """A refresh records each model's live rows from PostgreSQL's statistics as dbt reports the model
    (transform/assets.py): a kept connection publishes them at once, as a closed one does."""
    manager.set_connection_name("model.tracktracker.a")
    manager.begin()
    manager.execute(f"insert into {PROBE} select generate_series(1, 3)")
    manager.commit()
    manager.release()
    owner = connect(warehouse_url, autocommit=True)
    with owner.cursor() as cur:
        cur.execute(
            "select n_tup_ins from pg_stat_user_tables where schemaname = 'public' and relname = %s",
            (PROBE.split(".")[1],),
        )
        assert cur.fetchone() == (3,)
    owner.close()
