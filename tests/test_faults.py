"""Fault injection with real services: SIGKILL of PostgreSQL, of the CLI and of dbt (and a SIGTERM) at
points of a load, a refresh and an erasure. After each fault a plain re-run of the same command
completes within a bounded time, no process is left behind, and in the end gold equals a clean build
of what was loaded. The sensors, evaluated against the instance a killed run was left in, do not wait
for it.

The CLI runs as a subprocess (`.venv/bin/tracktracker`) in a scratch TRACKTRACKER_HOME of this module
(its PostgreSQL is killed, so it cannot be the session's). Kill points are observed states (a file
committed in bronze.loaded_files, a dbt process under the CLI with silver ahead of gold, a dbt process
of the erasure), never fixed sleeps. Recovery figures go to test-output/fault-recovery.json.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.conftest import REAL_DATA, REPO, TEST_POSTGRES_CONFIG
from tests.stores import traces
from tests.test_incremental import fingerprint
from tests.test_local_stack import processes_of
from tracktracker_assets.services.mongo import LAUNCHER as REGISTRY_LAUNCHER
from tracktracker_assets.services.mongo import PROGRAM as REGISTRY_PROGRAM
from tracktracker_assets.warehouse.locks import BRONZE_LOCK_KEY

USER = "fault-alice"
NAME = "Fault Alice"
CLI = REPO / ".venv" / "bin" / "tracktracker"
EXTENDED = REAL_DATA / "spotify-extended"
RECOVERY_BOUND_S = 120  # a re-run after any fault completes within this
VICTIM_EXIT_BOUND_S = 90  # a CLI whose PostgreSQL or dbt was killed gives up by itself within this

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(proc.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline")).read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@dataclass
class Lab:
    home: Path
    env: dict[str, str]
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    _connections: dict[str, Any] = field(default_factory=dict)

    # ---- commands -------------------------------------------------------------------------------
    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(CLI), *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def run(self, *args: str, timeout: float = RECOVERY_BOUND_S) -> tuple[subprocess.CompletedProcess, float]:
        began = time.monotonic()
        result = subprocess.run(
            [str(CLI), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        return result, time.monotonic() - began

    def settings(self):
        """The lab's settings, read from the lab's environment (the commands' own): this process's
        environment holds the session's Dagster URL, which the first in-process run put there."""
        from tracktracker_assets.settings import Settings

        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.env)
            return Settings.from_env()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # ---- observing ------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple = (), database: str = "tracktracker") -> list[tuple]:
        """Rows, or [] while the server is down (kept connections: polling must be quick)."""
        conn = self._connections.get(database)
        if conn is None or conn.closed:
            settings = self.settings()
            url = settings.database_url if database == "tracktracker" else settings.dagster_database_url
            try:
                conn = psycopg2.connect(url, connect_timeout=3)
            except psycopg2.OperationalError:
                return []
            conn.autocommit = True
            self._connections[database] = conn
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        except psycopg2.Error:
            conn.close()
            return []

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()

    def dbt_under(self, pid: int, command: str = "build") -> list[int]:
        """dbt processes running `command` under the CLI process pid (tracktracker-dbt execs dbt)."""
        return [c for c in _children(pid) if f"/dbt {command} " in _cmdline(c)]

    def postgres_pids(self) -> list[int]:
        pid_file = self.home / "postgres" / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [postmaster, *_children(postmaster)] if _alive(postmaster) else []

    def kill_postgres(self) -> None:
        """SIGKILL the server and all its backends at once, as a crash would."""
        for pid in self.postgres_pids():
            # a backend may end between the listing and its kill (a query that just finished)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def kill_postgres_then_cli(self, victim: subprocess.Popen) -> None:
        """PostgreSQL crashes; once dbt (if any) has given up, the CLI is killed too. Left alone, the
        CLI exits by itself after Dagster's storage retries (25-50 s here), which the suite does not
        spend."""
        dbt = self.dbt_under(victim.pid)
        self.kill_postgres()
        self.wait_for(lambda: not any(_alive(p) for p in dbt), 30, "dbt to stop without its database")
        victim.send_signal(signal.SIGKILL)

    def loaded(self) -> dict[str, int]:
        """Records loaded per file, by the file's sha256 (a file dropped twice is renamed)."""
        return dict(self.query("select sha256, records from bronze.loaded_files where user_id = %s", (USER,)))

    def runs(self, job: str) -> list[str]:
        rows = self.query(
            "select status from runs where pipeline_name = %s order by id desc", (job,), database="dagster"
        )
        return [r[0] for r in rows]

    def silver_ahead_of_gold(self) -> bool:
        """Silver (int_plays__deduplicated) has taken in a load that some incremental gold table has not
        (yet)."""
        tables = self.query(
            "select table_name from information_schema.columns "
            "where table_schema = 'gold' and column_name = '_batch_load_id'"
        )
        if not tables:
            return False
        behind = " union all ".join(f"select max(_batch_load_id) as b from gold.{t}" for (t,) in tables)
        rows = self.query(
            "select (select max(_batch_load_id) from silver.int_plays__deduplicated) "
            f"> (select min(b) from ({behind}) g)"
        )
        return bool(rows and rows[0][0])

    def leftovers(self) -> list[str]:
        """Processes of this home other than its database servers."""
        servers = ("postgres", "pg_ctl", REGISTRY_LAUNCHER, REGISTRY_PROGRAM)
        return [p for p in processes_of(self.home) if not any(server in p for server in servers)]

    def bronze_lock_waiters(self) -> int:
        rows = self.query(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted "
            "and ((classid::bigint << 32) | objid::bigint) = hashtext(%s)::bigint",
            (BRONZE_LOCK_KEY,),
        )
        return rows[0][0] if rows else 0

    @contextmanager
    def one_file_then_hold(self) -> Iterator[Callable[[subprocess.Popen], bool]]:
        """A kill point inside a load: one file committed, the next waiting for the bronze write lock.

        The test holds the lock; once the loader waits for it, a second connection queues behind the
        loader and the first lets go: the loader loads one file, the queued connection takes the lock
        before the loader's next file can (PostgreSQL grants waiters in order).
        """
        url = self.settings().database_url
        holder, queued = psycopg2.connect(url), psycopg2.connect(url)
        holder.autocommit = queued.autocommit = True
        lock = "select pg_advisory_lock(hashtext(%s))"
        holder.cursor().execute(lock, (BRONZE_LOCK_KEY,))
        granted = threading.Event()

        def queue() -> None:
            with contextlib.suppress(psycopg2.Error):
                queued.cursor().execute(lock, (BRONZE_LOCK_KEY,))
                granted.set()

        thread = threading.Thread(target=queue, daemon=True)

        def ready(_: subprocess.Popen) -> bool:
            if not thread.is_alive() and not granted.is_set():
                if self.bronze_lock_waiters() == 1:  # the loader, at its first file
                    thread.start()
                    self.wait_for(lambda: self.bronze_lock_waiters() == 2, 10, "the queued lock request")
                    holder.close()
                return False
            return granted.is_set() and self.bronze_lock_waiters() == 1  # the loader, at its next file

        try:
            yield ready
        finally:
            for conn in (holder, queued):
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
            if thread.is_alive():
                thread.join(timeout=10)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    # ---- one fault ------------------------------------------------------------------------------
    def fault(
        self,
        name: str,
        args: tuple[str, ...],
        kill_point: Callable[[subprocess.Popen], bool],
        kill: Callable[[subprocess.Popen], None],
        *,
        victim_exits: bool,
    ) -> subprocess.Popen:
        """Start args, kill at the kill point; a victim that survives its kill (dbt or PostgreSQL
        killed under it, SIGTERM) must exit by itself, non-zero and in bounded time."""
        victim = self.start(*args)
        try:
            self.wait_for(lambda: victim.poll() is not None or kill_point(victim), 180, f"{name}: kill point")
            assert victim.poll() is None, f"{name}: finished before the kill point:\n{victim.stdout.read()}"
            killed_at = time.monotonic()
            kill(victim)
            if victim_exits:
                victim.wait(timeout=VICTIM_EXIT_BOUND_S)
                assert victim.returncode != 0, victim.stdout.read()
                self.figures.setdefault(name, {})["victim_exit_s"] = round(time.monotonic() - killed_at, 1)
            else:
                victim.wait(timeout=30)
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()
        self.wait_for(lambda: not self.leftovers(), 15, f"{name}: no process left ({self.leftovers()})")
        return victim

    def recover(self, name: str, *args: str) -> str:
        result, seconds = self.run(*args)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{name}: the re-run failed:\n{output[-3000:]}"
        self.figures.setdefault(name, {})["recovery_s"] = round(seconds, 1)
        assert not self.leftovers(), self.leftovers()
        assert "STARTED" not in self.runs("import_exports") + self.runs("refresh_warehouse")
        assert self.query("select key from bronze.dbt_state where key = 'build_in_progress'") == []
        holders = self.query(
            "select run_id from concurrency_slots where run_id is not null", database="dagster"
        )
        assert holders == [], holders
        return output


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    home = Path(tempfile.mkdtemp(prefix="tt-faults-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKTRACKER_", "DAGSTER_"))}
    env["TRACKTRACKER_HOME"] = str(home)
    lab = Lab(home, env)
    try:
        from tracktracker_assets.services.local import open_registry, start_storage

        # the scratch cluster, fast and disposable (the CLI finds it running and uses it)
        start_storage(lab.settings(), postgres_config=TEST_POSTGRES_CONFIG)
        with open_registry(lab.settings()) as registry:
            registry.add_user(USER, NAME, "Europe/Berlin")  # `import` mirrors it
        yield lab
    finally:
        from tracktracker_assets.services.local import stop_storage

        lab.close()
        stop_storage(lab.settings())
        left = processes_of(home)
        out = REPO / "test-output"
        out.mkdir(exist_ok=True)
        (out / "fault-recovery.json").write_text(json.dumps(lab.figures, indent=2) + "\n")
        shutil.rmtree(home, ignore_errors=True)
        assert left == [], left


def _files(*names: str) -> tuple[str, ...]:
    return tuple(str(EXTENDED / name) for name in names)


def _sha(name: str) -> str:
    return hashlib.sha256((EXTENDED / name).read_bytes()).hexdigest()


def _expected(files: dict[str, int]) -> dict[str, int]:
    return {_sha(name): records for name, records in files.items()}


def _sensor_context(lab: Lab, monkeypatch: pytest.MonkeyPatch):
    """The lab's Dagster instance, as the daemon's sensors would see it."""
    from dagster import build_sensor_context

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.resources import WarehouseResource

    settings = lab.settings()
    for key in ("TRACKTRACKER_HOME", "DAGSTER_HOME", "TRACKTRACKER_DAGSTER_DATABASE_URL"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    monkeypatch.setenv("TRACKTRACKER_HOME", str(lab.home))
    instance = get_instance(settings)
    return instance, build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})


# ---- a load -----------------------------------------------------------------------------------------
def test_load_cut_by_killing_the_cli_and_the_inbox_sensor_after_it(lab: Lab, monkeypatch) -> None:
    first, second = (
        "Efrrowini--Streaming_History_Audio_2023.json",
        "Khushi-203006--Streaming_History_Audio_2023.json",
    )
    with lab.one_file_then_hold() as one_file_loaded:
        lab.fault(
            "load: CLI SIGKILL after the first file",
            ("import", USER, *_files(first, second)),
            one_file_loaded,
            lambda victim: victim.send_signal(signal.SIGKILL),
            victim_exits=False,
        )
    assert len(lab.loaded()) == 1
    assert lab.runs("import_exports")[0] == "STARTED"  # left behind by the dead process

    from tracktracker_assets.exports.sensors import inbox_sensor

    instance, context = _sensor_context(lab, monkeypatch)
    request = inbox_sensor(context)  # the second file still waits in the inbox
    assert request.__class__.__name__ == "RunRequest", request
    assert lab.runs("import_exports")[0] == "FAILURE"  # the sensor reclaimed the dead run
    instance.dispose()
    monkeypatch.undo()

    lab.recover("load: CLI SIGKILL after the first file", "import", USER, *_files(first, second))
    assert lab.loaded() == _expected({first: 1470, second: 4067})


def test_load_cut_by_killing_postgres(lab: Lab) -> None:
    files = {
        "mica-92--Streaming_History_Audio_2024_4.json": 3328,
        "Th1nhNg0--Streaming_History_Audio_2024_4.json": 2752,
        "mtas0--Streaming_History_Video_2019-2023.json": 172,
    }
    with lab.one_file_then_hold() as one_file_loaded:
        lab.fault(
            "load: PostgreSQL SIGKILL after the first file",
            ("import", USER, *_files(*files)),
            one_file_loaded,
            lab.kill_postgres_then_cli,
            victim_exits=False,
        )
    lab.recover("load: PostgreSQL SIGKILL after the first file", "import", USER, *_files(*files))
    assert _expected(files).items() <= lab.loaded().items()


# ---- a refresh ----------------------------------------------------------------------------------------
def _mid_build(lab: Lab) -> Callable[[subprocess.Popen], bool]:
    """dbt runs under the CLI and has already written silver (gold not yet complete)."""
    return lambda victim: bool(lab.dbt_under(victim.pid)) and lab.silver_ahead_of_gold()


def test_refresh_cut_by_killing_the_cli_leaves_no_dbt_and_the_sensor_resumes(lab: Lab, monkeypatch) -> None:
    export = _files("CandidlyRed--endsong.json")
    dbt: list[int] = []

    def kill(victim: subprocess.Popen) -> None:
        dbt.extend(lab.dbt_under(victim.pid))
        victim.send_signal(signal.SIGKILL)

    lab.fault(
        "refresh: CLI SIGKILL mid-build", ("import", USER, *export), _mid_build(lab), kill, victim_exits=False
    )
    lab.wait_for(lambda: not any(_alive(p) for p in dbt), 10, "dbt to die with the CLI")

    from tracktracker_assets.transform.sensors import bronze_changed_sensor

    instance, context = _sensor_context(lab, monkeypatch)
    request = bronze_changed_sensor(context)
    assert request.__class__.__name__ == "RunRequest" and "-after-" in request.run_key, request
    instance.dispose()
    monkeypatch.undo()

    output = lab.recover("refresh: CLI SIGKILL mid-build", "import", USER, *export)
    assert "nothing to do" in output and "Silver and gold refreshed" in output


def test_refresh_cut_by_killing_dbt_then_stopped_by_sigterm(lab: Lab) -> None:
    """dbt killed under the CLI: the CLI reports the failed refresh. Its re-run resumes the build and
    is stopped by SIGTERM: it ends cleanly (run marked failed, slot freed, dbt stopped, a message).
    A plain re-run then completes."""
    export = _files("mtas0--Streaming_History_Audio_2023_2.json")

    def kill_dbt(victim: subprocess.Popen) -> None:
        for pid in lab.dbt_under(victim.pid):
            os.kill(pid, signal.SIGKILL)

    victim = lab.fault(
        "refresh: dbt SIGKILL mid-build",
        ("import", USER, *export),
        _mid_build(lab),
        kill_dbt,
        victim_exits=True,
    )
    assert "refresh failed" in victim.stdout.read()
    victim = lab.fault(
        "refresh: CLI SIGTERM mid-build (the re-run after dbt's kill)",
        ("import", USER, *export),
        _mid_build(lab),
        lambda victim: victim.send_signal(signal.SIGTERM),
        victim_exits=True,
    )
    output = victim.stdout.read()
    assert "Interrupted" in output and "marked failed" in output, output
    assert lab.runs("refresh_warehouse")[0] == "FAILURE"
    assert (
        lab.query("select run_id from concurrency_slots where run_id is not null", database="dagster") == []
    )
    lab.recover("refresh: CLI SIGTERM mid-build (the re-run after dbt's kill)", "import", USER, *export)


def test_refresh_cut_by_killing_postgres(lab: Lab) -> None:
    export = _files("Khushi-203006--Streaming_History_Video_2024.json")
    lab.fault(
        "refresh: PostgreSQL SIGKILL mid-build",
        ("import", USER, *export),
        _mid_build(lab),
        lab.kill_postgres_then_cli,
        victim_exits=False,
    )
    lab.recover("refresh: PostgreSQL SIGKILL mid-build", "import", USER, *export)


def test_after_every_fault_gold_equals_a_clean_build(lab: Lab) -> None:
    from tracktracker_assets.transform.project import run_dbt

    files = {
        "Efrrowini--Streaming_History_Audio_2023.json": 1470,
        "Khushi-203006--Streaming_History_Audio_2023.json": 4067,
        "mica-92--Streaming_History_Audio_2024_4.json": 3328,
        "Th1nhNg0--Streaming_History_Audio_2024_4.json": 2752,
        "mtas0--Streaming_History_Video_2019-2023.json": 172,
        "CandidlyRed--endsong.json": 963,
        "mtas0--Streaming_History_Audio_2023_2.json": 552,
        "Khushi-203006--Streaming_History_Video_2024.json": 43,
    }
    loaded = lab.query("select file_name, records, inserted from bronze.loaded_files order by load_id")
    assert lab.loaded() == _expected(files), loaded  # every file once, all of it
    [(rows, inserted)] = lab.query(
        "select (select count(*) from bronze.spotify_extended_history where user_id = %s), "
        "(select sum(inserted) from bronze.loaded_files where user_id = %s)",
        (USER, USER),
    )
    assert rows == inserted
    settings = lab.settings()
    incremental = fingerprint(settings)
    run_dbt(settings, ["build", "--full-refresh", "--exclude", "test_type:unit"])
    clean = fingerprint(settings)
    differing = {t for t in clean if clean[t] != incremental.get(t)}
    assert not differing, {t: (incremental.get(t), clean[t]) for t in differing}


# ---- an erasure -----------------------------------------------------------------------------------------
def test_erasure_cut_by_killing_dbt_then_postgres_is_finished_by_a_rerun(lab: Lab) -> None:
    needles = [USER, NAME, "Efrrowini--Streaming_History_Audio_2023.json"]
    assert traces(lab.settings(), needles, first=True)
    remove = ("users", "remove", USER, "--yes")

    def dbt_runs(victim: subprocess.Popen) -> bool:  # the erasure's rebuild of the global trends
        return bool(lab.dbt_under(victim.pid, "run"))

    def kill_dbt(victim: subprocess.Popen) -> None:
        for pid in lab.dbt_under(victim.pid, "run"):
            os.kill(pid, signal.SIGKILL)

    lab.fault("erasure: dbt SIGKILL", remove, dbt_runs, kill_dbt, victim_exits=True)
    lab.fault(
        "erasure: PostgreSQL SIGKILL", remove, dbt_runs, lambda _: lab.kill_postgres(), victim_exits=True
    )
    output = lab.recover("erasure: PostgreSQL SIGKILL", *remove)
    assert f"Removed {USER}" in output
    assert traces(lab.settings(), needles) == []
