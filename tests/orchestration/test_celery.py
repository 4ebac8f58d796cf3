"""TRACKTRACKER_EXECUTOR=celery against a real broker: Debian's redis-server on a free port, two
`tracktracker worker` processes, the session's PostgreSQL and Dagster instance, the fake Spotify. A
pull tick is split into runs over slices of the listeners, executed side by side as the daemon would;
their steps run on both workers; a worker killed mid-step loses no play; the default stays in process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus, build_schedule_context

from tests.celery_stack import RedisServer, Workers, execute_runs, step_workers
from tests.conftest import REAL_PEOPLE, history_files_of
from tests.spotify.conftest import connect_directly, fake  # noqa: F401 (fake: the fixture)
from tracktracker_assets.orchestration.liveness import PID_TAG
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import query

SPOTIFY_STEP = "spotify_recently_played"
WORKERS = ("w1@tt-test", "w2@tt-test")
# Redis's own redelivery of a dead worker's step: later than the run's own resend (every step here is
# shorter)
VISIBILITY_TIMEOUT_S = 40


@pytest.fixture(scope="module")
def redis_server(tt_home: Path) -> Iterator[RedisServer]:
    with RedisServer(tt_home / "redis") as server:
        yield server


@pytest.fixture(scope="module")
def celery_env(redis_server: RedisServer, fake) -> Iterator[dict[str, str]]:  # noqa: F811
    env = {
        "TRACKTRACKER_EXECUTOR": "celery",
        "TRACKTRACKER_CELERY_BROKER_URL": redis_server.url,
        "TRACKTRACKER_CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
    }
    with pytest.MonkeyPatch.context() as patch:  # module-wide; restored after the module
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


@pytest.fixture(scope="module")
def workers(celery_env: dict[str, str], tt_home: Path) -> Iterator[Workers]:
    started = Workers(tt_home / "workers", celery_env)
    try:
        started.start(*WORKERS)
        yield started
    finally:
        started.stop()


@pytest.fixture
def instance(settings):
    from tracktracker_assets.orchestration.instance import get_instance

    return get_instance(settings)


def tick(instance) -> list[dict[str, str]]:
    """The pull schedule's run requests right now (the tags of each run)."""
    from tracktracker_assets.definitions import load
    from tracktracker_assets.orchestration.resources import RegistryResource

    schedule = load().get_schedule_def("recently_played_schedule")
    context = build_schedule_context(
        instance=instance,
        resources={"registry": RegistryResource()},
        scheduled_execution_time=datetime.now(UTC),
    )
    return [dict(request.tags) for request in schedule.evaluate_tick(context).run_requests or []]


def connect(fake, users: list[str], plays: int) -> None:  # noqa: F811
    from tracktracker_assets.orchestration.runs import ensure_partitions

    for user_id in users:
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", plays, end=datetime.now(UTC) - timedelta(minutes=5))
    ensure_partitions(get_settings(), users)


def stored(users: list[str]) -> dict[str, tuple[int, int]]:
    """Per user: plays stored, and distinct events among them."""
    rows = query(
        get_settings().database_url,
        "select user_id, count(*), count(distinct played_at) from bronze.spotify_recently_played "
        "where user_id = any(%s) group by user_id",
        (users,),
    )[1]
    found = {user_id: (count, distinct) for user_id, count, distinct in rows}
    return {user_id: found.get(user_id, (0, 0)) for user_id in users}


def test_a_pull_tick_spreads_over_both_workers_and_lands_every_play_once(fake, workers, instance) -> None:  # noqa: F811
    users = [f"celery-{i:02d}" for i in range(24)]
    connect(fake, users, plays=15)
    fake.latency = 0.3  # a step lasts long enough for both workers to be busy
    try:
        requests = tick(instance)
        assert len(requests) == get_settings().pull_slices == 4  # celery's default: four slices
        started = time.monotonic()
        runs = execute_runs(instance, "pull_recently_played", requests)
        elapsed = time.monotonic() - started
    finally:
        fake.latency = 0.0
    assert [run.status for run in runs] == [DagsterRunStatus.SUCCESS] * 4, elapsed
    assert stored(users) == {user_id: (15, 15) for user_id in users}
    taken = [taken for run in runs for taken in step_workers(instance, run.run_id)]
    # every step of every run went through a worker (three sources per run), each exactly once
    assert len(taken) == 4 * 3
    assert {worker for _, worker in taken} == set(WORKERS), taken  # the tick ran on both workers
    # each run records the process orchestrating it (a run whose process dies is reclaimed), not a worker
    orchestrators = {instance.get_run_by_id(run.run_id).tags[PID_TAG] for run in runs}
    assert len(orchestrators) == 4
    assert not orchestrators & {str(process.pid) for process in workers.processes.values()}
    # a second tick finds nothing new and stores nothing twice
    again = execute_runs(instance, "pull_recently_played", tick(instance))
    assert all(run.status == DagsterRunStatus.SUCCESS for run in again)
    assert stored(users) == {user_id: (15, 15) for user_id in users}


def test_in_process_stays_the_default(fake, workers, instance, monkeypatch) -> None:  # noqa: F811
    monkeypatch.delenv("TRACKTRACKER_EXECUTOR")
    users = ["inproc-a", "inproc-b", "inproc-c"]
    connect(fake, users, plays=4)
    requests = tick(instance)
    assert len(requests) == 1  # one run over every connected listener, as before
    [run] = execute_runs(instance, "pull_recently_played", requests)
    assert run.status == DagsterRunStatus.SUCCESS
    assert step_workers(instance, run.run_id) == []  # no step went to a worker
    assert stored(users) == {user_id: (4, 4) for user_id in users}


def test_a_worker_killed_mid_step_loses_no_play(fake, workers, instance, monkeypatch) -> None:  # noqa: F811
    users = [f"killed-{i}" for i in range(4)]
    connect(fake, users, plays=12)
    monkeypatch.setenv("TRACKTRACKER_PULL_SLICES", "1")
    requests = tick(instance)
    assert len(requests) == 1
    fake.latency = 1.5  # the Spotify step takes a few seconds: time to kill its worker
    outcome: list = []
    runner = threading.Thread(
        target=lambda: outcome.extend(execute_runs(instance, "pull_recently_played", requests))
    )
    try:
        runner.start()
        deadline = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < deadline:
            for run in instance.get_runs(limit=1):
                victim = next(
                    (w for step, w in step_workers(instance, run.run_id) if step == SPOTIFY_STEP), None
                )
            time.sleep(0.1)
        assert victim is not None, "no worker took the Spotify step"
        killed_at = time.monotonic()
        workers.kill(victim)
        fake.latency = 0.2
        runner.join(VISIBILITY_TIMEOUT_S + 30)
        assert not runner.is_alive(), "the run did not finish after its worker was killed"
    finally:
        fake.latency = 0.0
    [run] = outcome
    # the run noticed its step's worker was gone and sent the step again, to the surviving worker
    assert run.status == DagsterRunStatus.SUCCESS
    spotify = [w for step, w in step_workers(instance, run.run_id) if step == SPOTIFY_STEP]
    survivor = next(w for w in WORKERS if w != victim)
    assert spotify == [victim, survivor]
    assert time.monotonic() - killed_at < VISIBILITY_TIMEOUT_S  # before Redis would have handed it out
    said = [
        f"{record.event_log_entry.user_message} {record.event_log_entry.dagster_event.message}"
        for record in instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    ]
    assert any(f"Celery worker {victim} stopped answering" in message for message in said)
    assert stored(users) == {user_id: (12, 12) for user_id in users}


def test_with_no_worker_answering_the_run_fails_naming_its_listeners(
    fake,  # noqa: F811
    redis_server,
    workers,
    instance,
    monkeypatch,
) -> None:
    # a broker database no worker of this module listens on: the step waits for a worker that never comes
    monkeypatch.setenv("TRACKTRACKER_CELERY_BROKER_URL", redis_server.url.rsplit("/", 1)[0] + "/7")
    monkeypatch.setenv("TRACKTRACKER_CELERY_NO_WORKER_S", "6")
    monkeypatch.setenv("TRACKTRACKER_PULL_SLICES", "1")
    users = ["alone-a", "alone-b"]
    connect(fake, users, plays=3)
    requests = tick(instance)
    assert len(requests) == 1
    started = time.monotonic()
    [run] = execute_runs(instance, "pull_recently_played", requests)
    assert run.status == DagsterRunStatus.FAILURE
    assert time.monotonic() - started < 90  # bounded, not waiting forever
    failure = next(
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
    )
    errors = " ".join(
        str(record.event_log_entry.dagster_event.event_specific_data)
        for record in instance.get_records_for_run(run.run_id).records
        if record.event_log_entry.dagster_event is not None
    ) + (failure.message or "")
    assert "No Celery worker answered for 6 s" in errors
    assert "tracktracker worker" in errors
    first, last = (
        requests[0]["dagster/asset_partition_range_start"],
        requests[0]["dagster/asset_partition_range_end"],
    )
    assert f"listeners {first} to {last}" in errors
    assert stored(users) == {user_id: (0, 0) for user_id in users}


def test_an_import_batch_runs_on_the_workers_and_loads_every_file_once(
    workers, instance, monkeypatch
) -> None:
    from dagster import build_sensor_context

    from tracktracker_assets.exports.inbox import drop_into_inbox, pending_files, users_with_pending_files
    from tracktracker_assets.exports.sensors import inbox_sensor
    from tracktracker_assets.orchestration.runs import ensure_partitions
    from tracktracker_assets.services.local import open_registry

    settings = get_settings()
    # four listeners, each with one real person's export files
    people = ["Efrrowini", "jayeshironside", "mtas0", "vnegi10"]
    files = {f"celery-import-{i}": history_files_of(person) for i, person in enumerate(people)}
    with open_registry(settings) as registry:
        for user_id in files:
            registry.upsert_user(user_id, timezone=REAL_PEOPLE[people[0]][1])
    ensure_partitions(settings, list(files))
    for user_id, paths in files.items():
        for path in paths:
            drop_into_inbox(settings, user_id, path)
    # the inbox takes a file once it has settled (the workers run with the same settle time as this
    # process: they decide again which files are ready): wait until every file is
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        len(pending_files(settings, user_id)) < len(paths) for user_id, paths in files.items()
    ):
        time.sleep(0.2)
    requested = inbox_sensor(build_sensor_context(instance=instance))
    requests = requested if isinstance(requested, list) else [requested]
    assert len(requests) == settings.import_slices == 4  # one run per slice of the waiting listeners
    runs = execute_runs(instance, "import_exports", [request.tags for request in requests])
    assert [run.status for run in runs] == [DagsterRunStatus.SUCCESS] * 4
    taken = [taken for run in runs for taken in step_workers(instance, run.run_id)]
    assert len(taken) == 4 and {worker for _, worker in taken} <= set(WORKERS), taken
    loaded = query(
        settings.database_url,
        "select user_id, count(*), min(inserted) from bronze.loaded_files "
        "where user_id = any(%s) group by user_id",
        (list(files),),
    )[1]
    assert {user_id: (count, inserted > 0) for user_id, count, inserted in loaded} == {
        user_id: (len(paths), True) for user_id, paths in files.items()
    }
    assert not set(users_with_pending_files(settings)) & set(files)
    # nothing is waiting any more: the next evaluation asks for no run
    again = inbox_sensor(build_sensor_context(instance=instance))
    assert not isinstance(again, list) or again == []
