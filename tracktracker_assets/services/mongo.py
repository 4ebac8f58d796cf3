"""The embedded user-registry server of local mode: SecantusDB, a MongoDB-wire server from PyPI.

No MongoDB server can be installed from the package registries, so local mode and the tests run the
registry against SecantusDB (WiredTiger storage, reports MongoDB 8.2 and raises real E11000 errors).
docker-compose uses the real `mongo` image. Only tracktracker_assets/registry.py talks to either.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tracktracker_assets.services.processes import (
    read_pid,
    start_background,
    stop_process_group,
    tcp_listening,
    wait_until,
)
from tracktracker_assets.services.state import port_for, read_ports
from tracktracker_assets.settings import Settings


def server_executable() -> str:
    candidate = Path(sys.executable).parent / "secantusd-py"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("secantusd-py")
    if found is None:
        raise RuntimeError(
            "secantusdb is not installed, so there is no local registry server: run the README's setup "
            "command, or set TRACKTRACKER_MONGO_URL to an existing MongoDB."
        )
    return found


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
        return read_ports(self.settings).get("mongo")

    def running_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def start(self) -> int:
        if self.running_pid() is not None and self.port is not None and tcp_listening(self.port):
            return self.port
        port = port_for(self.settings, "mongo")
        self.settings.mongo_data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(self.settings.run_dir)}
        start_background(
            [
                server_executable(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(self.settings.mongo_data),
                "--standalone",
                "--log-level",
                "WARNING",
            ],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=env,
        )
        wait_until(
            lambda: tcp_listening(port), timeout=60, what="the registry server", log_file=self.log_file
        )
        return port

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is not None:
            stop_process_group(pid)
        self.pid_file.unlink(missing_ok=True)
