"""Runtime state that heals: PID files trusted only for the process they recorded, corrupt state files
reported by name and rebuilt, the registry found by its data directory, and the registry's login.

PID reuse is simulated with stand-in processes this module starts itself (a small Python loop that
writes down every SIGTERM it gets), some in their own session and some in pytest's own process group,
where a wrong killpg would take pytest down with them. Services run in scratch homes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.conftest import cli
from tracktracker_assets.services.processes import (
    ProcessRecord,
    all_at_once,
    in_background,
    inspect,
    is_running,
    pid_alive,
    read_pid,
    read_record,
    start_background,
    stop_process_group,
    stop_recorded,
    tcp_listening,
)
from tracktracker_assets.settings import Settings

# a process that writes down every SIGTERM or SIGINT before it exits, so no signal goes unnoticed
STAND_IN = """
import signal, sys, time
def noted(signum, frame):
    with open(sys.argv[1], "a") as handle:
        handle.write(f"{signum}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, noted)
signal.signal(signal.SIGINT, noted)
with open(sys.argv[1], "a") as handle:
    handle.write("ready\\n")
while True:
    time.sleep(0.05)
"""


def _signals(path: Path) -> list[str]:
    """The signals a stand-in noted; waits until it is ready to note them."""
    deadline = time.monotonic() + 20
    while not path.exists() or "ready" not in path.read_text():
        assert time.monotonic() < deadline, f"the stand-in writing {path} never started"
        time.sleep(0.01)
    return path.read_text().split()[1:]


@dataclass
class StandIn:
    proc: subprocess.Popen[bytes]
    signals_file: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def record(self) -> ProcessRecord:
        record = inspect(self.pid)
        assert record is not None
        return record

    def signals(self) -> list[str]:
        return _signals(self.signals_file)

    def untouched(self) -> bool:
        return self.proc.poll() is None and self.signals() == []

    def gone(self, timeout: float = 30) -> bool:
        """Exited (and reaped: by stop_process_group, which reaps its own children, or here)."""
        deadline = time.monotonic() + timeout
        while inspect(self.pid) is not None and time.monotonic() < deadline:
            self.proc.poll()
            time.sleep(0.05)
        return inspect(self.pid) is None


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[Callable[..., StandIn]]:
    started: list[StandIn] = []

    def start(*extra_argv: str, own_group: bool = True, env: dict[str, str] | None = None) -> StandIn:
        signals_file = tmp_path / f"signals-{len(started)}"
        proc = subprocess.Popen(
            [sys.executable, "-c", STAND_IN, str(signals_file), *extra_argv],
            start_new_session=own_group,
            env={**os.environ, **(env or {})},
        )
        stand_in = StandIn(proc, signals_file)
        started.append(stand_in)
        assert stand_in.signals() == []
        return stand_in

    yield start
    for stand_in in started:
        stand_in.proc.kill()
        stand_in.proc.wait()


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A scratch TRACKTRACKER_HOME (outside pytest's 0700 tmp tree: PostgreSQL runs as another user)."""
    path = Path(tempfile.mkdtemp(prefix="tt-state-"))
    for key in list(os.environ):
        if key.startswith(("TRACKTRACKER_", "DAGSTER_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TRACKTRACKER_HOME", str(path))
    settings = Settings.from_env()
    settings.run_dir.mkdir(parents=True)
    yield settings
    try:
        from tracktracker_assets.services.local import stop_storage

        stop_storage(settings)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _forged(stand_in: StandIn, **changes: object) -> str:
    """A PID record naming the stand-in's PID, with something that does not match."""
    record = stand_in.record
    data = {
        "pid": record.pid,
        "start_time": record.start_time,
        "argv": list(record.argv),
        "boot_id": record.boot_id,
    }
    data.update(changes)
    return json.dumps(data)


# ---- PID files --------------------------------------------------------------------------------------
def test_a_pid_file_is_trusted_only_for_the_process_it_recorded(
    tmp_path: Path, stand_ins, capsys: pytest.CaptureFixture[str]
) -> None:
    pid_file = tmp_path / "run" / "service.pid"
    pid = start_background(
        [sys.executable, "-c", STAND_IN, str(tmp_path / "ours-signals")],
        pid_file=pid_file,
        log_file=tmp_path / "log",
    )
    started = inspect(pid)
    try:
        assert _signals(tmp_path / "ours-signals") == []
        record = ProcessRecord.parse(pid_file.read_text())
        assert record == started and record.start_time > 0 and record.argv[1:2] == ("-c",)
        assert read_pid(pid_file) == pid
        assert stop_recorded(pid_file)
    finally:
        if started is not None and is_running(started):  # the test failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)
    assert inspect(pid) is None and not pid_file.exists()
    assert _signals(tmp_path / "ours-signals") == [str(int(signal.SIGTERM))]

    foreign = stand_ins()
    for content in (
        _forged(foreign, start_time=foreign.record.start_time + 1),  # the PID, reused after a crash
        _forged(foreign, argv=["/usr/bin/other-program"]),
        _forged(foreign, boot_id="an-earlier-boot"),
    ):
        pid_file.write_text(content)
        assert read_pid(pid_file) is None
        assert not stop_recorded(pid_file)
        assert foreign.untouched()

    for content, said in (
        (f"{foreign.pid}\n", "bare PID"),
        ("\x00garbage{", "not what TrackTracker wrote"),
        ("", "empty"),
    ):
        pid_file.write_text(content)
        capsys.readouterr()
        assert read_pid(pid_file) is None
        warning = capsys.readouterr().err
        assert str(pid_file) in warning and said in warning and "service.pid.bad" in warning, warning
        assert not pid_file.exists() and (tmp_path / "run" / "service.pid.bad").read_text() == content
        pid_file.write_text(content)
        assert not stop_recorded(pid_file)
        assert foreign.untouched()


def test_a_group_is_signalled_only_when_our_process_leads_it(stand_ins) -> None:
    # stand-ins in pytest's own process group: a killpg of that group would end this test run
    member = stand_ins(own_group=False)
    sibling = stand_ins(own_group=False)
    assert os.getpgid(member.pid) == os.getpgid(0) != member.pid
    assert stop_process_group(member.pid, expected=member.record)
    assert member.gone() and member.signals() == [str(int(signal.SIGTERM))]  # the process alone
    assert sibling.untouched()

    leader = stand_ins()
    wrong = ProcessRecord(leader.pid, leader.record.start_time - 1, leader.record.argv, leader.record.boot_id)
    assert not stop_process_group(leader.pid, expected=wrong)
    assert leader.untouched()


# a service started by a process that exits without waiting for it: once the service ends, nobody reaps
# it (init does, when its parent is gone, in its own time: this machine's takes a second or two, a
# container's first process may never)
UNREAPED_SERVICE = """
import signal, subprocess, sys, time
service = subprocess.Popen(["sleep", "600"], start_new_session=True)
print(service.pid, flush=True)
time.sleep(600)
"""


def test_a_group_that_has_exited_is_stopped_though_nobody_reaped_its_leader() -> None:
    parent = subprocess.Popen([sys.executable, "-c", UNREAPED_SERVICE], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        leader = int(parent.stdout.readline())
        began = time.monotonic()
        assert stop_process_group(leader, timeout=5)
        assert time.monotonic() - began < 5  # done when the group exited, not when its timeout ran out
        state = (Path("/proc") / str(leader) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state == "Z" and not pid_alive(leader)  # exited; its parent still has not reaped it
        os.killpg(leader, 0)  # so the group's number is still in use
    finally:
        parent.kill()
        parent.wait()


def test_status_and_down_never_trust_nor_signal_processes_they_did_not_start(
    home: Settings, stand_ins
) -> None:
    run = home.run_dir
    leader, member = stand_ins(), stand_ins(own_group=False)
    (run / "mongo.pid").write_text(_forged(leader, start_time=leader.record.start_time + 7))
    (run / "superset.pid").write_text(f"{member.pid}\n")  # an older TrackTracker's bare PID
    (run / "dagster-webserver.pid").write_text(_forged(member, argv=["dagster-webserver", "-p", "3000"]))
    (run / "dagster-daemon.pid").write_text("garbage")
    (run / "ports.json").write_text('{"postgres": 54')  # truncated
    home.pgdata.mkdir()
    (home.pgdata / "postmaster.pid").write_text(f"{leader.pid}\n{home.pgdata}\n1\n5432\n")

    code, output = cli("status")
    assert code == 0 and "Traceback" not in output, output
    for service in ("postgres", "registry", "dagster", "dagster daemon", "superset"):
        assert f"○ {service}: " in output, output
    for name in ("ports.json", "superset.pid", "dagster-daemon.pid"):
        assert f"{run / name} " in output and f"{name}.bad" in output, output
    assert "rebuilt it from the running services (none is running)" in output
    assert json.loads((run / "ports.json").read_text()) == {}

    code, output = cli("down")
    assert code == 0 and "Stopped." in output and "Traceback" not in output, output
    assert leader.untouched() and member.untouched()


def test_orphans_of_superset_and_dagster_are_found_by_the_home_they_run_for(
    home: Settings, stand_ins
) -> None:
    gunicorn = stand_ins(
        "gunicorn", "superset.app:create_app()", env={"SUPERSET_HOME": str(home.home / "superset")}
    )
    daemon = stand_ins("dagster-daemon", "run", env={"DAGSTER_HOME": str(home.dagster_home)})
    elsewhere = stand_ins("dagster-daemon", "run", env={"DAGSTER_HOME": "/another/home/dagster"})
    (home.run_dir / "superset.pid").write_text("{not json")

    code, output = cli("status")
    assert code == 0, output
    assert "○ superset: stopped" in output  # found, but not answering HTTP
    assert f"● dagster daemon: pid {daemon.pid}" in output, output
    assert read_record(home.run_dir / "superset.pid") == gunicorn.record  # found and recorded

    code, output = cli("down")
    assert code == 0, output
    assert gunicorn.gone() and daemon.gone()
    assert gunicorn.signals() == daemon.signals() == [str(int(signal.SIGTERM))]
    assert elsewhere.untouched()


# ---- the registry -------------------------------------------------------------------------------------
def _unauthenticated(port: int) -> MongoClient:
    return MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=3000)


def test_the_registry_refuses_clients_without_the_login(settings: Settings) -> None:
    from tracktracker_assets.services.local import open_registry, storage_states
    from tracktracker_assets.services.mongo import EmbeddedMongo

    port = EmbeddedMongo(settings).running_port()
    assert port is not None
    with pytest.raises(OperationFailure) as refused:
        _unauthenticated(port)[settings.mongo_db].list_collection_names()
    assert refused.value.code == 13 and "requires authentication" in str(refused.value)
    wrong = MongoClient(
        f"mongodb://tracktracker:guess@127.0.0.1:{port}/?authSource=admin", serverSelectionTimeoutMS=3000
    )
    with pytest.raises(OperationFailure, match="uthentication failed"):
        wrong[settings.mongo_db].list_collection_names()

    with open_registry(settings) as registry:
        registry.add_user("login-check")
        assert registry.require_user("login-check").user_id == "login-check"
        assert registry.remove_user("login-check")

    password = settings.mongo_password()
    assert (
        password in settings.mongo_url
        and oct((settings.secrets_dir / "mongo-password").stat().st_mode)[-3:] == "600"
    )
    detail = next(s.detail for s in storage_states(settings) if s.name == "registry")
    assert f"127.0.0.1:{port}" in detail and "login required" in detail and password not in detail
    assert password not in repr(settings)
    log = (settings.log_dir / "mongo.log").read_text() if (settings.log_dir / "mongo.log").exists() else ""
    assert password not in log


def test_an_orphaned_registry_with_a_garbage_pid_file_is_found_reused_and_stopped(home: Settings) -> None:
    from tracktracker_assets.services.mongo import EmbeddedMongo
    from tracktracker_assets.services.state import read_ports

    mongo = EmbeddedMongo(home)
    port = mongo.start()
    server = mongo.running()
    assert server is not None and "--auth" in server.argv

    mongo.pid_file.write_text("garbage")
    (home.run_dir / "ports.json").write_text("")
    code, output = cli("status")
    assert code == 0, output
    assert f"● registry: embedded SecantusDB, 127.0.0.1:{port}, pid {server.pid}" in output, output
    assert f"{mongo.pid_file} is not what TrackTracker wrote" in output
    assert f"rebuilt it from the running services (mongo {port})" in output
    assert read_record(mongo.pid_file) == server and read_ports(home) == {"mongo": port}

    mongo.pid_file.write_text("12")
    assert EmbeddedMongo(home).start() == port  # reused, not a second server on the same data
    assert mongo.running() == server

    mongo.pid_file.unlink()
    code, output = cli("down")
    assert code == 0 and "Stopped." in output, output
    assert not is_running(server) and not tcp_listening(port)


def test_the_registry_servers_stop_ends_its_accept_thread_and_keeps_its_data(tmp_path: Path) -> None:
    """SecantusDB's own stop leaves its accept thread blocked in accept() (a close from another thread
    does not wake it) and waits out a 2 s join; the launcher's stop wakes it first."""
    from secantus.server import SecantusDBServer

    from tracktracker_assets.services.registry_server import _wake_accept_first

    def serve() -> SecantusDBServer:
        server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(tmp_path / "data"))
        server.start()
        return server

    server = serve()
    accept_thread = server._thread
    with MongoClient(server.uri, serverSelectionTimeoutMS=10_000) as client:
        client.db.plays.insert_one({"kept": True})
    _wake_accept_first(SecantusDBServer.stop)(server)
    assert accept_thread is not None and not accept_thread.is_alive()

    server = serve()
    try:
        with MongoClient(server.uri, serverSelectionTimeoutMS=10_000) as client:
            assert client.db.plays.count_documents({"kept": True}) == 1
    finally:
        server.stop()


def test_a_registry_from_before_authentication_gets_a_login_on_the_next_up(home: Settings) -> None:
    from tracktracker_assets.services.mongo import PROGRAM, EmbeddedMongo
    from tracktracker_assets.services.state import free_port, remember_port
    from tracktracker_assets.users.registry import Registry

    # what an older TrackTracker left running: SecantusDB's own program without --auth, a bare PID in
    # mongo.pid
    port = free_port()
    home.mongo_data.mkdir()
    argv = [
        str(Path(sys.executable).with_name(PROGRAM)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(home.mongo_data),
    ]
    old = subprocess.Popen([*argv, "--standalone", "--log-level", "WARNING"], start_new_session=True)
    try:
        (home.run_dir / "mongo.pid").write_text(str(old.pid))
        remember_port(home, "mongo", port)
        deadline = time.monotonic() + 30
        while not tcp_listening(port):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        _unauthenticated(port)[home.mongo_db].users.insert_one({"user_id": "from-before", "status": "active"})

        assert EmbeddedMongo(home).start() == port
        assert inspect(old.pid) is None  # the unauthenticated server was stopped
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()
    with pytest.raises(OperationFailure):
        _unauthenticated(port)[home.mongo_db].list_collection_names()
    with Registry(home.mongo_url, home.mongo_db, home.secret_key) as registry:
        assert registry.user_ids() == ["from-before"]

    # a lost password file: the login is reset on the next start, the data stays
    (home.secrets_dir / "mongo-password").unlink()
    EmbeddedMongo(home).stop()
    fresh = Settings.from_env()
    assert EmbeddedMongo(fresh).start() == port
    with Registry(fresh.mongo_url, fresh.mongo_db, fresh.secret_key) as registry:
        assert registry.user_ids() == ["from-before"]


# ---- PostgreSQL -----------------------------------------------------------------------------------------
def test_postgres_starts_past_a_garbage_or_stale_postmaster_pid(
    home: Settings, stand_ins, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import TEST_POSTGRES_CONFIG
    from tracktracker_assets.services.postgres import EmbeddedPostgres
    from tracktracker_assets.services.state import read_ports

    pg = EmbeddedPostgres(home, extra_config=TEST_POSTGRES_CONFIG)
    port = pg.start()
    assert pg.running_pid() is not None and pg.running_port() == port
    (home.run_dir / "ports.json").write_text("{]")
    assert read_ports(home) == {"postgres": port}  # rebuilt from what the running server says
    pg.stop()

    pg.lock_file.write_text("garbage\n")
    assert pg.running_pid() is None
    capsys.readouterr()
    assert pg.start() == port
    assert f"{pg.lock_file} is not a PostgreSQL lock file" in capsys.readouterr().err
    pg.stop()

    # a crash left postmaster.pid behind, and its PID now belongs to another program
    other = stand_ins()
    pg.lock_file.write_text(f"{other.pid}\n{home.pgdata}\n1700000000\n{port}\n127.0.0.1\n")
    assert pg.running_pid() is None
    pg.stop()  # pg_ctl would signal what the lock file names: it must not run
    assert other.untouched()
    capsys.readouterr()
    assert pg.start() == port
    assert f"names pid {other.pid}, which is not a PostgreSQL server" in capsys.readouterr().err
    assert other.untouched()
    pg.stop()


def test_postgres_settings_hold_through_a_reload(home: Settings) -> None:
    """The server's settings live in its data directory's configuration (a file postgresql.conf
    includes last): a reload (pg_reload_conf(), as an ALTER SYSTEM sends) keeps them and finds no
    error there. Given as `-c` options, the ones only a restart changes differed from initdb's file,
    and every reload logged that the configuration file contains errors."""
    import psycopg2

    from tests.conftest import TEST_POSTGRES_CONFIG
    from tracktracker_assets.services.postgres import CONFIG_FILE, EmbeddedPostgres

    pg = EmbeddedPostgres(home, extra_config=TEST_POSTGRES_CONFIG)
    pg.start()
    pg.stop()
    pg.start()  # a second start includes the file once, not twice
    try:
        conn = psycopg2.connect(pg.admin_dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("select pg_reload_conf()")
                deadline = time.monotonic() + 10
                while "received SIGHUP" not in pg.log_file.read_text() and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.2)  # the reload's complaints, if any, follow its first line
                cur.execute(
                    "select name, setting, unit from pg_settings where name in "
                    "('shared_buffers', 'max_connections', 'work_mem', 'fsync')"
                )
                settings = {name: (setting, unit) for name, setting, unit in cur.fetchall()}
        finally:
            conn.close()
    finally:
        pg.stop()
    log = pg.log_file.read_text()
    assert "received SIGHUP" in log
    assert "contains errors" not in log and "cannot be changed without restarting" not in log
    assert settings == {
        "shared_buffers": ("32768", "8kB"),  # 256MB
        "max_connections": ("200", None),
        "work_mem": ("32768", "kB"),
        "fsync": ("off", None),  # a caller's setting beside ours
    }
    lines = (home.pgdata / "postgresql.conf").read_text().splitlines()
    assert lines.count(f"include_if_exists = '{CONFIG_FILE}'") == 1


def test_postgres_starts_past_backends_its_crashed_server_left_running(
    home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGKILLed postmaster can leave a backend running (busy, or in disk I/O), and stays a zombie
    until reaped: PostgreSQL refuses to start past either, so the next start ends the one and sets the
    other's lock file aside."""
    from tests.conftest import TEST_POSTGRES_CONFIG
    from tracktracker_assets.services import postgres
    from tracktracker_assets.services.postgres import EmbeddedPostgres

    monkeypatch.setattr(postgres, "ORPHAN_GRACE_S", 1.0)
    pg = EmbeddedPostgres(home, extra_config=TEST_POSTGRES_CONFIG)
    port = pg.start()
    postmaster = pg.running_pid()
    assert postmaster is not None
    os.kill(postmaster, signal.SIGKILL)
    # gone, or a zombie nobody has reaped yet (PostgreSQL takes a zombie for a running server)
    deadline = time.monotonic() + 30
    while pid_alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.05)
    # a stand-in for a backend that outlived it: a program named postgres working in the data directory
    backend_binary = tmp_path / "postgres"
    shutil.copy("/bin/sleep", backend_binary)
    orphan = subprocess.Popen([str(backend_binary), "300"], cwd=home.pgdata)
    try:
        assert pg.running_pid() is None
        assert pg.start() == port
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert pg.running_pid() is not None
    finally:
        orphan.kill()
        orphan.wait()
        pg.stop()


def test_services_stop_together_and_every_stop_is_waited_for_before_an_error_is_raised() -> None:
    # each action waits for the others to have begun: run one after the other, the barrier breaks
    barrier = threading.Barrier(3, timeout=10)
    finished: list[str] = []

    def stop(name: str, fails: bool = False) -> None:
        barrier.wait()
        time.sleep(0.2 if fails else 0.5)
        finished.append(name)
        if fails:
            raise RuntimeError(f"{name} would not stop")

    with pytest.raises(RuntimeError, match="superset would not stop"):
        all_at_once(lambda: stop("dagster"), lambda: stop("superset", fails=True), lambda: stop("commands"))
    assert sorted(finished) == ["commands", "dagster", "superset"]  # the slower ones were not abandoned


def test_work_begun_in_the_background_gives_its_result_or_its_error_when_asked() -> None:
    assert in_background(lambda: "http://127.0.0.1:1", "start").result(timeout=10) == "http://127.0.0.1:1"
    failed = in_background(lambda: 1 / 0, "start")
    with pytest.raises(ZeroDivisionError):
        failed.result(timeout=10)
