"""Runs of dead processes are reclaimed (with PID reuse told apart by process start time), waits for
a busy slot or lock are bounded and name the holder, an import interrupted before its load run says
what waits in the inbox, and erasure's matching of a listener's names.
Against the session's real PostgreSQL and Dagster instance; the dead and live processes are stand-ins
the tests start themselves."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetCheckResult, DagsterRunStatus, asset, asset_check
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id

from tracktracker_assets.orchestration.liveness import (
    HOST_TAG,
    PID_TAG,
    PROCESS_TAG,
    BusyError,
    claim_pool_slots,
    ensure_pool,
    reclaim_stale_runs,
    this_process_tags,
)
from tracktracker_assets.users.traces import REDACTED, Identity, redact_file
from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.warehouse.locks import DBT_LOCK_KEY, LockBusyError, dbt_lock


class Runs:
    """Runs the test adds to the session's instance (deleted afterwards)."""

    def __init__(self, instance) -> None:
        self.instance = instance
        self.created: list[str] = []

    def started(self, tags: dict[str, str]) -> str:
        run_id = make_new_run_id()
        self.instance.add_run(
            DagsterRun(
                job_name="refresh_warehouse", run_id=run_id, status=DagsterRunStatus.STARTED, tags=tags
            )
        )
        self.created.append(run_id)
        return run_id


@pytest.fixture
def runs(settings):
    from tracktracker_assets.orchestration.instance import get_instance

    made = Runs(get_instance(settings))
    yield made
    for run_id in made.created:
        made.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        made.instance.delete_run(run_id)
    made.instance.dispose()


def dead_process_tags() -> dict[str, str]:
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    from tracktracker_assets.orchestration.liveness import process_identity

    tags = {
        **this_process_tags(),
        PID_TAG: str(stand_in.pid),
        PROCESS_TAG: process_identity(stand_in.pid) or "",
    }
    stand_in.kill()
    stand_in.wait()
    return tags


def test_runs_of_dead_processes_are_reclaimed_and_their_slots_freed(runs) -> None:
    instance = runs.instance
    storage = instance.event_log_storage
    dead = runs.started(dead_process_tags())
    reused = runs.started({**this_process_tags(), PROCESS_TAG: "another-boot:1"})
    alive = runs.started(this_process_tags())
    elsewhere = runs.started({**dead_process_tags(), HOST_TAG: "another-host"})
    ensure_pool(instance, "dbt", 1)
    assert storage.claim_concurrency_slot("dbt", dead, "dbt_silver_gold").is_claimed

    reclaimed = {r.run_id: r.reason for r in reclaim_stale_runs(instance)}
    # the session's instance is shared: only this test's runs are compared
    assert set(reclaimed) & {dead, reused, alive, elsewhere} == {dead, reused}
    assert "is gone" in reclaimed[dead] and "another process" in reclaimed[reused]
    status = {run_id: instance.get_run_by_id(run_id).status for run_id in (dead, reused, alive, elsewhere)}
    assert status == {
        dead: DagsterRunStatus.FAILURE,
        reused: DagsterRunStatus.FAILURE,
        alive: DagsterRunStatus.STARTED,  # this process: alive
        elsewhere: DagsterRunStatus.STARTED,  # another host's: cannot be judged from here
    }
    assert storage.get_concurrency_info("dbt").claimed_slots == []
    failure = instance.get_run_record_by_id(dead)
    assert failure.end_time is not None


def test_a_wait_for_a_busy_slot_is_bounded_and_names_the_holder(runs) -> None:
    instance = runs.instance
    storage = instance.event_log_storage
    holder = runs.started(this_process_tags())
    ensure_pool(instance, "dbt", 1)
    assert storage.claim_concurrency_slot("dbt", holder, "dbt_silver_gold").is_claimed
    waiter = make_new_run_id()
    heard: list[str] = []
    with pytest.raises(BusyError) as raised:
        claim_pool_slots(instance, waiter, [("dbt_silver_gold", "dbt")], timeout_s=1.5, on_wait=heard.append)
    message = str(raised.value)
    assert holder[:8] in message and f"pid {os.getpid()}" in message and "TRACKTRACKER_BUSY_WAIT_S" in message
    assert heard and holder[:8] in heard[0]
    # the waiter left no queued claim behind (one for a run not created yet would look like a leftover)
    assert all(p.run_id != waiter for p in storage.get_concurrency_info("dbt").pending_steps)
    storage.free_concurrency_slots_for_run(holder)
    claim_pool_slots(instance, waiter, [("dbt_silver_gold", "dbt")], timeout_s=5)
    assert [s.run_id for s in storage.get_concurrency_info("dbt").claimed_slots] == [waiter]
    storage.free_concurrency_slots_for_run(waiter)


def test_a_wait_for_the_dbt_lock_is_bounded_and_names_the_backend(settings) -> None:
    holder = connect(settings.database_url, autocommit=True, application="tt-test-lock-holder")
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_backend_pid(), pg_advisory_lock(hashtext(%s))", (DBT_LOCK_KEY,))
            backend = cur.fetchone()[0]
        with pytest.raises(LockBusyError) as raised, dbt_lock(dataclasses.replace(settings, busy_wait_s=1)):
            pass
        assert f"backend {backend}" in str(raised.value) and "tt-test-lock-holder" in str(raised.value)
    finally:
        holder.close()
    with dbt_lock(dataclasses.replace(settings, busy_wait_s=5)):
        pass  # free again once the holder's connection is gone


def test_a_listener_is_matched_as_a_whole_word_in_every_spelling(tmp_path: Path) -> None:
    ana = Identity("ana", "Ana Nguyễn")
    assert ana.found_in(b"/inbox/ana/file.json") and ana.found_in(b'{"user": "ana"}')
    assert ana.found_in(b"| ANA | x |") and ana.found_in(b'"name": "Ana Nguy\\u1ec5n"')
    assert not ana.found_in(b"demo-ana banana analyze ana_2023")
    log = tmp_path / "daemon.log"
    log.write_bytes(b"keep 1\nloaded /inbox/ana/x.json\nkeep demo-ana\nAna Nguy\xe1\xbb\x85n listened\n")
    assert redact_file(log, ana) == 2
    assert log.read_bytes() == b"keep 1\n" + REDACTED + b"keep demo-ana\n" + REDACTED


def test_pull_outcomes_read_as_one_line_per_user() -> None:
    from tracktracker_assets.orchestration.runs import _pull_lines

    lines = _pull_lines(
        [
            {"user_id": "ana", "status": "ok", "inserted": 3, "items": 50, "message": None},
            {
                "user_id": "sam",
                "status": "needs_reauth",
                "inserted": 0,
                "items": 0,
                "message": "token\n revoked",
            },
        ]
    )
    assert lines == ["ana: ok, 3 new of 50 items", "sam: needs_reauth, 0 new of 0 items — token revoked"]
    assert _pull_lines([]) == []


def test_a_command_builds_the_dagster_instance_once_and_disposes_it(settings, monkeypatch) -> None:
    from dagster import DagsterInstance

    from tracktracker_assets.orchestration.instance import get_instance, one_instance

    built: list[DagsterInstance] = []
    disposed: list[DagsterInstance] = []
    get = DagsterInstance.get

    def counted() -> DagsterInstance:
        instance = get()
        built.append(instance)
        monkeypatch.setattr(instance, "dispose", lambda: disposed.append(instance))
        return instance

    monkeypatch.setattr(DagsterInstance, "get", staticmethod(counted))
    with one_instance(settings):
        first = get_instance(settings)
        with one_instance(settings):  # nested (an import's load and refresh): the outer one owns it
            assert get_instance(settings) is first
        assert get_instance(settings) is first and disposed == []
    assert built == [first] and disposed == [first]
    assert get_instance(settings) is not first  # outside a command: built at each call, as before


def _plan_written(instance, run_id: str) -> tuple:
    """What the event log keeps of a run: its events by type, its checks' executions, the assets'
    latest planned run."""
    from dagster import AssetKey

    records = instance.get_records_for_run(run_id).records
    kinds = sorted(str(record.event_log_entry.dagster_event_type) for record in records)
    executions = sorted(
        (record.key.asset_key.to_user_string(), record.key.name, str(record.status))
        for key in ("probe_checked", "probe_plain")
        for record in instance.event_log_storage.get_asset_check_execution_history(
            _check_key(AssetKey(key)), limit=5
        )
        if record.run_id == run_id
    )
    planned = [
        instance.get_latest_planned_materialization_info(AssetKey(key)).run_id
        for key in ("probe_checked", "probe_plain")
    ]
    return kinds, executions, planned == [run_id, run_id]


def _check_key(asset_key):
    from dagster import AssetCheckKey

    return AssetCheckKey(asset_key, "probe_positive")


@asset
def probe_checked():
    return 1


@asset
def probe_plain():
    return 2


@asset_check(asset=probe_checked, name="probe_positive")
def checked_positive():
    return AssetCheckResult(passed=True)


@asset_check(asset=probe_plain, name="probe_positive")
def plain_positive():
    return AssetCheckResult(passed=True)


def test_a_runs_plan_written_as_one_batch_is_what_dagster_writes_event_by_event(
    settings, monkeypatch
) -> None:
    from dagster import AssetKey, materialize

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.storage import PooledPostgresEventLogStorage

    batches: list[int] = []
    store_batch = PooledPostgresEventLogStorage.store_event_batch

    def spied(self, events) -> None:
        batches.append(len(events))
        store_batch(self, events)

    monkeypatch.setattr(PooledPostgresEventLogStorage, "store_event_batch", spied)
    instance = get_instance(settings)
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    written = []
    try:
        for batch in (None, "1000"):  # Dagster's writes one by one, then ours as one batch
            if batch is None:
                monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
            else:
                monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch)
            result = materialize(
                [probe_checked, probe_plain, checked_positive, plain_positive], instance=instance
            )
            assert result.success
            written.append(_plan_written(instance, result.run_id))
            instance.delete_run(result.run_id)
    finally:
        instance.wipe_assets([AssetKey("probe_checked"), AssetKey("probe_plain")])
        instance.dispose()
    one_by_one, batched = written
    assert batches == [4]  # the second run's plan: two assets, two checks, in one batch
    assert batched == one_by_one
    kinds, executions, latest = batched
    assert kinds.count("DagsterEventType.ASSET_MATERIALIZATION_PLANNED") == 2
    assert kinds.count("DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED") == 2
    assert len(executions) == 2 and latest


def test_the_event_log_asks_once_whether_a_table_of_dagsters_schema_exists(settings, monkeypatch) -> None:
    from dagster_postgres.event_log import PostgresEventLogStorage

    from tracktracker_assets.orchestration.instance import get_instance

    instance = get_instance(settings)
    asked: list[str] = []
    has_table = PostgresEventLogStorage.has_table

    def counted(self, table_name: str) -> bool:
        asked.append(table_name)
        return has_table(self, table_name)

    monkeypatch.setattr(PostgresEventLogStorage, "has_table", counted)
    try:
        storage = instance.event_log_storage
        assert all(storage.has_table("asset_event_tags") for _ in range(3))
        assert not any(storage.has_table("no_such_table") for _ in range(2))  # absent: asked each time
        assert asked == ["asset_event_tags", "no_such_table", "no_such_table"]
    finally:
        instance.dispose()


def test_dagsters_schema_checks_are_asked_once_and_runs_use_a_pool(settings, monkeypatch) -> None:
    """Each asset event asked the catalog for the asset table's columns, and each read of runs for the
    runs table's, on a new connection each: ~100 of an import's ~4 ms questions and connections."""
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
    from sqlalchemy.pool import QueuePool

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.storage import PooledPostgresRunStorage

    instance = get_instance(settings)
    asked: list[str] = []
    columns_asked = SqlEventLogStorage._has_asset_key_col_on_connection
    run_stats_asked = SqlRunStorage.has_run_stats_index_cols

    def column_counted(self, conn, column_name: str) -> bool:
        asked.append(column_name)
        return columns_asked(self, conn, column_name)

    def run_stats_counted(self) -> bool:
        asked.append("run stats")
        return run_stats_asked(self)

    monkeypatch.setattr(SqlEventLogStorage, "_has_asset_key_col_on_connection", column_counted)
    monkeypatch.setattr(SqlRunStorage, "has_run_stats_index_cols", run_stats_counted)
    try:
        events, runs = instance.event_log_storage, instance.run_storage
        assert isinstance(runs, PooledPostgresRunStorage) and isinstance(runs._engine.pool, QueuePool)
        assert all(events.has_asset_key_col("cached_status_data") for _ in range(3))
        assert all(events.can_read_asset_status_cache() for _ in range(2))
        assert not any(events.has_asset_key_col("no_such_column") for _ in range(2))  # absent: each time
        assert all(runs.has_run_stats_index_cols() for _ in range(3))
        assert asked == ["cached_status_data", "no_such_column", "no_such_column", "run stats"]
        # the runs are what they were: the pool changes how they are reached, not what is kept
        assert instance.get_runs(limit=1) == instance.get_runs(limit=1)
    finally:
        instance.dispose()


def test_an_import_interrupted_before_its_load_says_what_waits_in_the_inbox(settings, monkeypatch) -> None:
    """Ctrl-C while an import prepares its load run (before the run takes SIGINT over): the files it
    took in wait in the inbox, and the message says so and what to do; the same import loads them."""
    from rich.console import Console

    from tests.conftest import REAL_DATA, cli
    from tracktracker_assets.exports.inbox import entry_names
    from tracktracker_assets.orchestration import pipeline
    from tracktracker_assets.orchestration import runs as run_module

    user = "interrupted-ines"
    code, output = cli("users", "add", user, "--timezone", "Europe/Lisbon")
    assert code == 0, output
    export = REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Audio_2023_2.json"

    def ctrl_c(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run_import", ctrl_c)
    with pytest.raises(run_module.RunInterrupted) as interrupted:
        pipeline.import_files(settings, Console(quiet=True), user, [export])
    assert not interrupted.value.started
    assert str(interrupted.value) == (
        f"Interrupted by SIGINT. Not loaded yet: 1 file(s) wait in {user}'s inbox ({export.name}). Run "
        "the same import again (it skips what is loaded), or leave them to the daemon's inbox sensor "
        "while `tracktracker up` runs."
    )
    assert entry_names(settings, user) == [export.name]

    monkeypatch.undo()
    assert pipeline.import_files(settings, Console(quiet=True), user, [export])
    assert entry_names(settings, user) == []
    conn = connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from gold.fct_plays where user_id = %s", (user,))
            assert cur.fetchone()[0] == 552  # every record of the file is a distinct event
    finally:
        conn.close()
