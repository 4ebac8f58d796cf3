"""Dagster's event log in PostgreSQL, with a connection pool.

dagster-postgres uses no pool outside its webserver, so every event a run writes opens (and
authenticates) a new connection. A partitioned run over a thousand users writes a materialization per
user: about three thousand connections, 30-40 s of a pull tick. A small pool, as dagster-postgres
itself uses in the webserver, keeps that to milliseconds. Configured in dagster.yaml.
"""

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import pg_url_from_config

POOL_RECYCLE_S = 3600
MAX_OVERFLOW = 8


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data)
        # statement_timeout 0: no timeout; runs (unlike the webserver's reads) may write for a while
        self.optimize_for_webserver(
            statement_timeout=0, pool_recycle=POOL_RECYCLE_S, max_overflow=MAX_OVERFLOW
        )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PooledPostgresEventLogStorage":
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
        )
