"""Dagster's event log and run storage in PostgreSQL, with connection pools, schema checks asked
once, and a run's plan written at once.

dagster-postgres uses no pool outside its webserver, so every event a run writes, and every read or
write of a run's record, opens (and authenticates, ~4 ms) a new connection. A partitioned run over a
thousand users writes a materialization per user: about three thousand connections, 30-40 s of a pull
tick; an import of 50 plays opened ~50. A small pool, as dagster-postgres itself uses in the
webserver, keeps that to milliseconds. Configured in dagster.yaml.

Both also ask PostgreSQL's catalog, on each call, whether a column or table of Dagster's schema is
there (a migration may have added it): ~4 ms a question, ~50 times in an import. A column or table
that is there stays there, so the answer "present" is kept; "absent" is asked again.

When a run starts, Dagster records what it intends to execute: an event per asset and per asset check
(~160 for a refresh: every model and data test of the dbt project). With DAGSTER_EVENT_BATCH_SIZE set
(orchestration/instance.py sets it) Dagster hands them over as one batch, which dagster-postgres still
writes one event at a time, each in transactions of its own (~3 ms each). Here the batch is one
transaction: the events in one insert, then the rows each keeps (the asset's latest run, the check's
planned execution), as Dagster's own store_event writes them.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.utils import create_pg_engine, pg_url_from_config, set_pg_statement_timeout
from sqlalchemy import event
from sqlalchemy.engine import Engine

POOL_RECYCLE_S = 3600
MAX_OVERFLOW = 8
_PLANNED = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


def _pooled_engine(storage: Any) -> Engine:
    """The storage's engine with a pool, as dagster-postgres's webserver set-up makes it (one connection
    kept, more while busy; autocommit; no statement timeout: a run may write for a while), with each
    connection checked as it is taken: a server that restarted (after a crash, `tracktracker up`)
    leaves the pool's connections dead, and a run's failure recorded on one once the database is back
    would be lost, the run left "started"."""
    kwargs: dict[str, Any] = {
        "isolation_level": "AUTOCOMMIT",
        "pool_size": 1,
        "pool_recycle": POOL_RECYCLE_S,
        "max_overflow": MAX_OVERFLOW,
        "pool_pre_ping": True,
    }
    options = storage._engine.url.query.get("options")
    if options:
        kwargs["connect_args"] = {"options": options}
    storage._engine.dispose()
    engine = create_pg_engine(storage.postgres_url, storage._token_provider, **kwargs)
    event.listen(engine, "connect", lambda connection, _: set_pg_statement_timeout(connection, 0))
    return engine


class _Pooled:
    """A dagster-postgres storage (the class after this one in the bases) on a pooled engine, made
    from dagster.yaml's config as dagster-postgres makes its own."""

    _engine: Engine

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._start_remembering()  # before Dagster's own set-up asks about its schema
        super().__init__(postgres_url, should_autocreate_tables, inst_data)  # type: ignore[call-arg]
        self._engine = _pooled_engine(self)

    def _start_remembering(self) -> None:
        """Empty the answers about Dagster's schema this storage keeps."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Any:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
        )


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    def _start_remembering(self) -> None:
        self._tables_present: set[str] = set()
        self._asset_key_columns: set[str] = set()

    def has_table(self, table_name: str) -> bool:
        """Asked for every materialization with tags (a reflection query on a connection of its own,
        ~8 ms); a table Dagster's schema has, it keeps."""
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def has_asset_key_col(self, column_name: str) -> bool:
        if column_name in self._asset_key_columns:
            return True  # without taking a connection to ask on
        return super().has_asset_key_col(column_name)

    def _has_asset_key_col_on_connection(self, conn: Any, column_name: str) -> bool:
        """Asked for each asset event and each read of an asset's records."""
        if column_name not in self._asset_key_columns:
            if not super()._has_asset_key_col_on_connection(conn, column_name):
                return False
            self._asset_key_columns.add(column_name)
        return True

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or any(event.dagster_event_type not in _PLANNED for event in events):
            super().store_event_batch(events)
            return
        with self.index_transaction() as conn:
            inserted = conn.execute(
                self.prepare_insert_event_batch(events).returning(SqlEventLogStorageTable.c.id)
            )
            stored = list(zip(events, [int(row[0]) for row in inserted.fetchall()], strict=True))
            assets = [
                (event, event_id)
                for event, event_id in stored
                if event.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
            ]
            self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
            for event, event_id in assets:
                self._store_asset_event(conn, event, event_id)
            checks = [_planned_check_rows(event, event_id) for event, event_id in stored]
            rows = [row for planned in checks for row in planned]
            if rows:
                conn.execute(AssetCheckExecutionsTable.insert().values(rows))


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    """Dagster's runs, with a connection pool and its schema checks answered once (module docstring)."""

    def _start_remembering(self) -> None:
        self._present: set[str] = set()

    def _kept(self, name: str, ask: Callable[[], bool]) -> bool:
        if name not in self._present and ask():
            self._present.add(name)
        return name in self._present

    def has_run_stats_index_cols(self) -> bool:
        return self._kept("run_stats_index_cols", super().has_run_stats_index_cols)

    def has_bulk_actions_selector_cols(self) -> bool:
        return self._kept("bulk_actions_selector_cols", super().has_bulk_actions_selector_cols)

    def has_backfill_id_column(self) -> bool:
        return self._kept("backfill_id_column", super().has_backfill_id_column)

    def has_bulk_action_job_name_column(self) -> bool:
        return self._kept("bulk_action_job_name_column", super().has_bulk_action_job_name_column)

    def has_backfill_tags_table(self) -> bool:
        return self._kept("backfill_tags_table", super().has_backfill_tags_table)


def _planned_check_rows(event: EventLogEntry, event_id: int) -> list[dict[str, Any]]:
    """The planned executions of a check (one per partition), as Dagster's store_event writes them."""
    if event.dagster_event_type != DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
        return []
    planned = event.get_dagster_event().event_specific_data
    keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
    when = datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None)  # UTC, without a zone
    return [
        {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "partition": key,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": when,
            "evaluation_event_storage_id": event_id,
        }
        for key in keys
    ]
