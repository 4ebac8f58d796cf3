"""The `users` partitions as rows of Dagster's storage, for commands that must not start Dagster."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg2
import psycopg2.errors

USERS_PARTITIONS = "users"  # the name of the dynamic partitions definition (partitions.py)


def add_without_dagster(dagster_database_url: str, user_ids: Iterable[str]) -> bool:
    """Add the users' partitions the instance lacks, without starting Dagster (importing it and
    opening its instance takes over a second of `users add`): what Dagster's PostgreSQL storage does
    itself, an insert that leaves a partition already there as it is, one user after the other so
    that they keep the order they were added in (Dagster orders them by id).

    False when Dagster has not created its storage yet (it does on its first start): the caller then
    adds them through the instance (partitions.ensure_partitions)."""
    try:
        conn = psycopg2.connect(dagster_database_url)
    except psycopg2.OperationalError:  # no `dagster` database yet
        return False
    try:
        with conn, conn.cursor() as cur:
            for user_id in dict.fromkeys(user_ids):
                cur.execute(
                    "insert into dynamic_partitions (partitions_def_name, partition) values (%s, %s) "
                    "on conflict do nothing",
                    (USERS_PARTITIONS, user_id),
                )
        return True
    except psycopg2.errors.UndefinedTable:
        return False
    finally:
        conn.close()
