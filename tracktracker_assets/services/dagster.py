"""Dagster's three processes of local mode, as the compose deployment runs them: the code server
(`dagster code-server start`, the code location of workspace.yaml served over gRPC, compose's
user-code), the webserver and the daemon, both loading that one server through a workspace file
written in DAGSTER_HOME. Instance storage in PostgreSQL, 127.0.0.1 only.

One code server, not one per process: a daemon that loads the module itself replaces its code
server every minute (Dagster reloads the code it manages so as to pick up changes), ~3 CPU seconds
each time on an idle machine; code changes reach a running stack with `up` after `down`, or the
UI's reload. The webserver is TrackTracker's front (orchestration/front.py: Dagster's app behind a
login), never the stock `dagster-webserver`, so no port serves the UI unprotected. Each runs in its
own process group, so stopping the code server stops the runs it launched too.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests
import yaml

from tracktracker_assets.orchestration import front as dagster_front
from tracktracker_assets.services.processes import (
    Matcher,
    all_at_once,
    read_pid,
    runs,
    start_background,
    stop_process_group,
    stop_recorded,
    wait_until,
)
from tracktracker_assets.services.state import port_for, read_ports
from tracktracker_assets.settings import Settings

# docker-compose's webserver runs the same module (`python -m ...`)
FRONT_MODULE = dagster_front.__name__
CODE_SERVICE = "dagster-code"  # its port, among the services' ports


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _runs_front(pid: int) -> bool:
    try:
        return FRONT_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell (no /proc): leave it be


@dataclass
class DagsterServices:
    settings: Settings

    def _pid_file(self, name: str) -> Path:
        return self.settings.run_dir / f"dagster-{name}.pid"

    def _ours(self, name: str) -> Matcher:
        """The process, recognised without its PID file by the Dagster home it was started for."""
        env = {"DAGSTER_HOME": str(self.settings.dagster_home)}
        if name == "webserver":
            return runs(Path(sys.executable).name, "-m", FRONT_MODULE, env=env)
        if name == "code-server":
            return runs("dagster", "code-server", "start", env=env)
        return runs(f"dagster-{name}", env=env)

    def _log(self, name: str) -> Path:
        return self.settings.log_dir / f"dagster-{name}.log"

    @property
    def port(self) -> int | None:
        return read_ports(self.settings).get("dagster")

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None

    def _env(self) -> dict[str, str]:
        from tracktracker_assets.orchestration.instance import dagster_env
        from tracktracker_assets.transform.project import dbt_env

        # dbt and Dagster read these; the code servers the two processes spawn inherit them
        return {**os.environ, **dagster_env(self.settings), **dbt_env(self.settings)}

    def start(self) -> str:
        from tracktracker_assets.orchestration.instance import REPO_ROOT, prepare_dagster_home

        prepare_dagster_home(self.settings)
        # the passwords exist before the front starts, so `up` can say where they are
        dagster_front.load_accounts(self.settings)
        running = self.webserver_pid()
        if running is not None and not _runs_front(running):
            stop_process_group(running)  # a stock dagster-webserver left by an older `up`: no login
        if self.code_server_pid() is None:
            # the others (of an older `up`, or left by a code server that died) load a gone server
            for name in ("daemon", "webserver"):
                stop_recorded(self._pid_file(name), find=self._ours(name))
            module, location = _code_location()
            port = port_for(self.settings, CODE_SERVICE)
            start_background(
                [_bin("dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port),
                 "-m", module, "--location-name", location],
                pid_file=self._pid_file("code-server"),
                log_file=self._log("code-server"),
                env=self._env(),
                cwd=REPO_ROOT,
            )  # fmt: skip
        workspace = str(self._write_workspace())
        wait_until(
            self.code_server_ready,
            timeout=180,
            what="the Dagster code server",
            log_file=self._log("code-server"),
        )
        if self.webserver_pid() is None:
            port = port_for(self.settings, "dagster")
            start_background(
                [sys.executable, "-m", FRONT_MODULE, "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
                pid_file=self._pid_file("webserver"),
                log_file=self._log("webserver"),
                env=self._env(),
                cwd=REPO_ROOT,
            )
        if self.daemon_pid() is None:
            start_background(
                [_bin("dagster-daemon"), "run", "-w", workspace],
                pid_file=self._pid_file("daemon"),
                log_file=self._log("daemon"),
                env=self._env(),
                cwd=REPO_ROOT,
            )
        wait_until(
            self.webserver_healthy, timeout=180, what="the Dagster webserver", log_file=self._log("webserver")
        )
        assert self.url is not None
        return self.url

    def _write_workspace(self) -> Path:
        """The workspace of the webserver and the daemon: the code server of this home, where it runs."""
        _, location = _code_location()
        port = read_ports(self.settings)[CODE_SERVICE]
        path = self.settings.dagster_home / "workspace.yaml"
        server = {"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": location}}
        text = "# written by `tracktracker up`: the code server it started\n" + yaml.safe_dump(
            {"load_from": [server]}, sort_keys=False
        )
        path.write_text(text)
        return path

    def login_lines(self) -> list[str]:
        """Where the UI's passwords are kept (never the passwords themselves)."""
        operator, viewer = (source.where(self.settings) for source in dagster_front.ACCOUNT_SOURCES)
        return [
            f"Login: user [bold]operator[/] (runs, wipes, schedules), password in {operator}",
            f"       user [bold]viewer[/] (read only), password in {viewer}",
        ]

    def webserver_pid(self) -> int | None:
        return read_pid(self._pid_file("webserver"), find=self._ours("webserver"))

    def daemon_pid(self) -> int | None:
        return read_pid(self._pid_file("daemon"), find=self._ours("daemon"))

    def code_server_pid(self) -> int | None:
        return read_pid(self._pid_file("code-server"), find=self._ours("code-server"))

    def code_server_ready(self) -> bool:
        """The code server answers with the code location loaded (not an error, not still loading)."""
        from tracktracker_assets.orchestration.code_server import location_loaded

        port = read_ports(self.settings).get(CODE_SERVICE)
        if port is None or self.code_server_pid() is None:
            return False
        return location_loaded("127.0.0.1", port)

    def webserver_healthy(self) -> bool:
        if self.url is None or self.webserver_pid() is None:
            return False
        try:
            return requests.get(f"{self.url}/server_info", timeout=2).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        # the code server last: the two that loaded it stop first, together
        all_at_once(*(partial(self._stop, name) for name in ("daemon", "webserver")))
        self._stop("code-server")

    def _stop(self, name: str) -> None:
        stop_recorded(self._pid_file(name), find=self._ours(name))


def _code_location() -> tuple[str, str]:
    """(module, location name) of the code location workspace.yaml declares: written once, there."""
    from tracktracker_assets.orchestration.instance import REPO_ROOT

    (entry,) = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    return entry["python_module"]["module_name"], entry["python_module"]["location_name"]
