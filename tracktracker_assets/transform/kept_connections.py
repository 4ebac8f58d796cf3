"""A dbt thread's warehouse connection kept from one node to the next (dbt in the command process).

dbt closes a thread's connection when a node is done, and the thread's next node opens a new one: a
PostgreSQL backend started and authenticated (SCRAM), whose first statements then read every table's
catalog entries again, for each of a refresh's ~30 models and tests. Kept open instead, a connection
is left as a new one would be: the node's transaction rolled back (dbt commits what it keeps, and
ends a test's reads by closing), its temporary tables (an incremental model's new rows) dropped and
its statistics published.
dbt closes the connections at the end of its run as before; a connection that cannot be reset is
closed, and the next node opens a new one.
"""

from __future__ import annotations

import functools
from typing import Any

# the node's temporary tables dropped; and its table statistics (rows written) published as the
# connection goes idle, as a closed connection's are, not up to a second later (a model's are already,
# as its transaction commits and before dbt reports it: macros/publish_statistics.sql)
RESET = "select pg_stat_force_next_flush(); discard temp"


@functools.cache  # once per process
def keep_connections_between_nodes() -> None:
    """Make dbt's postgres connections outlive their node (installed once)."""
    import psycopg2.extensions
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    close = PostgresConnectionManager.release
    busy = {psycopg2.extensions.TRANSACTION_STATUS_INTRANS, psycopg2.extensions.TRANSACTION_STATUS_INERROR}

    def release(self: Any) -> None:
        with self.lock:
            conn = self.get_if_exists()
        if conn is None or conn.state != ConnectionState.OPEN:
            return close(self)
        handle = conn.handle
        if not isinstance(handle, psycopg2.extensions.connection) or handle.closed:
            return close(self)
        try:
            if handle.autocommit:  # dbt's own BEGIN, which psycopg2 does not know of
                with handle.cursor() as cur:
                    if handle.get_transaction_status() in busy:
                        cur.execute("rollback")
                    cur.execute(RESET)
            else:
                handle.rollback()
                with handle.cursor() as cur:
                    cur.execute(RESET)
                handle.commit()
        except Exception:
            return close(self)
        if handle.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return close(self)
        conn.transaction_open = False

    PostgresConnectionManager.release = release  # type: ignore[method-assign]
