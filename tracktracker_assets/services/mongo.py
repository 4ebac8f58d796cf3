"""The embedded user-registry server of local mode: SecantusDB, a MongoDB-wire server from PyPI.

No MongoDB server can be installed from the package registries, so local mode and the tests run the
registry against SecantusDB (WiredTiger storage, reports MongoDB 8.2 and raises real E11000 errors).
docker-compose uses the real `mongo` image. Only tracktracker_assets/users/registry.py talks to either.

The server always runs with authentication (SCRAM-SHA-256) on 127.0.0.1: TrackTracker logs in as
`tracktracker` with a password generated under TRACKTRACKER_HOME/secrets/. SecantusDB provisions users
only while it runs without --auth, so the first start (and a home from before authentication, or one
whose password file was lost) runs it once without authentication on a throwaway port to create or reset
the login, then restarts it with --auth.

The server is recognised by its data directory (`--storage-path`), not only by run/mongo.pid: a server
left running with a lost or garbled PID file is found, reused by `up` and stopped by `down`.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from tracktracker_assets.services.processes import (
    Matcher,
    ProcessRecord,
    is_running,
    read_record,
    runs,
    server_env,
    start_background,
    stop_process_group,
    stop_recorded,
    tcp_listening,
    wait_until,
)
from tracktracker_assets.services.state import free_port, port_for, read_ports, remember_port
from tracktracker_assets.settings import MONGO_USER, Settings
from tracktracker_assets.users.registry import login_accepted, provision_login

# SecantusDB's own command line, which servers started by earlier versions run
PROGRAM = "secantusd-py"
# the same server, with a stop that does not wait out its accept thread (registry_server.py)
LAUNCHER = "tracktracker_assets.services.registry_server"


def server_command() -> list[str]:
    if importlib.util.find_spec("secantus") is None:
        raise RuntimeError(
            "secantusdb is not installed, so there is no local registry server: run the README's setup "
            "command, or set TRACKTRACKER_MONGO_URL to an existing MongoDB."
        )
    return [sys.executable, "-m", LAUNCHER]


def port_of(argv: tuple[str, ...]) -> int | None:
    """The --port a server was started with."""
    try:
        return int(argv[argv.index("--port") + 1])
    except (ValueError, IndexError):
        return None


@dataclass
class EmbeddedMongo:
    settings: Settings

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / "mongo.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / "mongo.log"

    @property
    def port(self) -> int | None:
        """The port remembered for the registry (the one it runs on, see running_port)."""
        return read_ports(self.settings).get("mongo")

    def matcher(self) -> Matcher:
        """Our server: SecantusDB on our data directory, whatever its PID file says (started through
        the launcher, or as SecantusDB's own program by an earlier version)."""
        data = str(self.settings.mongo_data)
        ours, earlier = runs(LAUNCHER, "--storage-path", data), runs(PROGRAM, "--storage-path", data)
        return lambda record: ours(record) or earlier(record)

    def running(self) -> ProcessRecord | None:
        return read_record(self.pid_file, find=self.matcher())

    def running_pid(self) -> int | None:
        record = self.running()
        return record.pid if record else None

    def running_port(self) -> int | None:
        record = self.running()
        return port_of(record.argv) if record else None

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> int:
        """Start the server with authentication (provisioning its login when needed), or reuse the one
        running on our data directory; returns its port."""
        data = self.settings.mongo_data
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        provisioned = False
        running = self.running()
        if running is not None:
            port = port_of(running.argv)
            answers = port is not None and self._answers(running, port)
            if (
                answers
                and "--auth" in running.argv
                and login_accepted(self._url(port), self.settings.mongo_db)
            ):
                remember_port(self.settings, "mongo", port)
                return port
            if answers and "--auth" not in running.argv:
                # a server from before authentication: give it the login, then restart it with --auth
                self._create_login(port)
                provisioned = True
            if port is not None:
                remember_port(self.settings, "mongo", port)
            stop_process_group(running.pid, expected=running)
        port = port_for(self.settings, "mongo")
        if not provisioned and any(data.iterdir()):
            self._launch(port, auth=True)
            if login_accepted(self._url(port), self.settings.mongo_db):
                return port
            self.stop()  # no login of ours yet (a home from before authentication), or its password was lost
        if not provisioned:
            self._provision()
        self._launch(port, auth=True)
        if not login_accepted(self._url(port), self.settings.mongo_db):
            self.stop()
            raise RuntimeError(
                f"The registry server refused the login just provisioned for it; see {self.log_file}"
            )
        return port

    def _url(self, port: int) -> str:
        return self.settings.embedded_mongo_url(port)

    def _provision(self) -> None:
        """Create or reset TrackTracker's login, on a throwaway port while authentication is off."""
        port = free_port()
        self._launch(port, auth=False)
        try:
            self._create_login(port)
        finally:
            self.stop()

    def _create_login(self, port: int) -> None:
        """On a server running without authentication."""
        url = f"mongodb://127.0.0.1:{port}/"
        provision_login(url, MONGO_USER, self.settings.mongo_password(), self.settings.mongo_db)

    def _launch(self, port: int, *, auth: bool) -> None:
        env = server_env(XDG_RUNTIME_DIR=str(self.settings.run_dir))
        argv = [
            *server_command(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(self.settings.mongo_data),
            "--standalone",
            "--log-level",
            "WARNING",
        ]
        start_background(
            [*argv, "--auth"] if auth else argv, pid_file=self.pid_file, log_file=self.log_file, env=env
        )
        record = read_record(self.pid_file)
        if record is None or not self._answers(record, port, timeout=60):
            self.stop()
            raise RuntimeError(f"The registry server did not start on 127.0.0.1:{port}; see {self.log_file}")

    def _answers(self, record: ProcessRecord, port: int, *, timeout: float = 15) -> bool:
        """Whether the server listens on port within timeout (False at once if it exits)."""

        def ready() -> bool:
            if not is_running(record):
                raise _Exited
            return tcp_listening(port)

        try:
            wait_until(ready, timeout=timeout, what="the registry server", log_file=self.log_file)
        except (_Exited, RuntimeError):
            return False
        return True

    def stop(self) -> None:
        stop_recorded(self.pid_file, find=self.matcher())


class _Exited(Exception):
    pass
