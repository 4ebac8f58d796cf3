"""A real Celery stack for tests and benchmarks: Debian's redis-server on a free 127.0.0.1 port (no
persistence), `tracktracker worker` processes, and runs executed as the daemon's run worker executes
them (the job rebuilt from its module, its own executor), several side by side."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORKER_READY_S = 120.0


class RedisServer:
    """redis-server on a free port, started by `with`, stopped after (by its PID)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        from tracktracker_assets.services.state import free_port

        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is missing: `./tracktracker test` installs it (apt-get install redis-server)"
            )
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping():
                    return self
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.workdir / 'redis.log').read_text()}")
            time.sleep(0.1)

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Workers:
    """`tracktracker worker` processes with this process's environment (plus `env`), stopped by PID."""

    def __init__(self, logdir: Path, env: Mapping[str, str]) -> None:
        self.logdir = logdir
        self.env = {**os.environ, **env}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        for name in names:
            log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 (the process writes it)
            self.processes[name] = subprocess.Popen(
                ["nice", "-n", "19", str(REPO / ".venv" / "bin" / "tracktracker"), "worker", "--name", name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + WORKER_READY_S
        for name in names:
            while " ready." not in self.log(name):
                if self.processes[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not start:\n{self.log(name)[-3000:]}")
                time.sleep(0.2)

    def log(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, the step in hand dies with the process."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def reconstructable_job(job_name: str) -> Any:
    """The job as a run worker loads it: from the code location's module, by name."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module(
        "tracktracker_assets.definitions", "defs", working_directory=str(REPO)
    )
    return repository.get_reconstructable_job(job_name)


def _execute_one(job_name: str, tags: dict[str, str], sender: Any) -> None:
    from dagster import DagsterInstance, execute_job

    with (
        DagsterInstance.get() as instance,
        execute_job(reconstructable_job(job_name), instance=instance, tags=tags) as result,
    ):
        sender.send(result.run_id)


def execute_runs(instance: Any, job_name: str, tag_sets: Iterable[Mapping[str, str]]) -> list[Any]:
    """One run per tag set, all at once (as the daemon launches a tick's run requests), each in a
    process of its own (forked: the code is loaded already) with the job's own executor; the runs
    when all finished. (Dagster's execution is not thread-safe: threads of one process deadlock.)"""
    context = multiprocessing.get_context("fork")
    started = []
    for tags in tag_sets:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_execute_one, args=(job_name, dict(tags), sender))
        process.start()
        sender.close()
        started.append((process, receiver))
    run_ids = []
    for process, receiver in started:
        try:
            run_ids.append(receiver.recv())
        except EOFError:
            raise RuntimeError(f"a {job_name} run process died (exit code {process.exitcode})") from None
        finally:
            process.join()
    return [instance.get_run_by_id(run_id) for run_id in run_ids]


def step_workers(instance: Any, run_id: str) -> list[tuple[str, str]]:
    """(step key, Celery worker) for every step a worker took up in this run, in order."""
    from dagster import DagsterEventType

    taken = []
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records:
        event = record.event_log_entry.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if "Celery worker" in metadata:
            taken.append((event.step_key or "", str(metadata["Celery worker"].value)))
    return taken
