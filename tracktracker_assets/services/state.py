"""Runtime state under TRACKTRACKER_HOME/run: the ports chosen for the embedded services, and how state
files are written and read.

Every state file is written whole or not at all (write to a temporary file, fsync, rename). A file that
cannot be read anyway (a crash of the machine, a hand edit) is never a traceback: it is moved aside as
`<name>.bad`, a warning names it and says what was done, and the state is rebuilt from what is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tracktracker_assets.settings import Settings

T = TypeVar("T")


class CorruptState(Exception):
    """A state file that exists but cannot be read or understood."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def warn(message: str) -> None:
    """A problem that was repaired: said on stderr (every command's and service log's channel)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def write_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace path with text: readers see the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_state(path: Path, parse: Callable[[str], T]) -> T | None:
    """parse(text of path); None if there is no such file. Raises CorruptState when the file cannot be
    read, or parse raises ValueError, TypeError or KeyError (json.JSONDecodeError is a ValueError)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptState(path, f"cannot be read ({exc})") from exc
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError) as exc:
        reason = "is empty" if not text.strip() else f"is not what TrackTracker wrote ({exc})"
        raise CorruptState(path, reason) from exc


def set_aside(path: Path, expected: str | None = None) -> Path:
    """Move a bad state file to `<name>.bad` (kept for a look, replaced by the next bad one).

    expected: the text that was found bad; if the file changed since (another process rewrote it),
    it is left alone."""
    bad = path.with_name(path.name + ".bad")
    with contextlib.suppress(OSError):
        if expected is None or path.read_text(errors="replace") == expected:
            os.replace(path, bad)
    return bad


def report_corrupt(exc: CorruptState, outcome: str) -> None:
    """Set the file of exc aside and say so: what was wrong and what was done instead."""
    bad = set_aside(exc.path)
    warn(f"{exc.path} {exc.reason}; moved it to {bad.name}; {outcome}")


# ---- ports ------------------------------------------------------------------------------------------
def _ports_file(settings: Settings) -> Path:
    return settings.run_dir / "ports.json"


def _parse_ports(text: str) -> dict[str, int]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    ports: dict[str, int] = {}
    for service, port in data.items():
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError(f"{service!r} has no valid port: {port!r}")
        ports[str(service)] = port
    return ports


@contextlib.contextmanager
def _ports_lock(settings: Settings) -> Iterator[None]:
    # two commands remembering ports at once must not lose each other's entries
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / "ports.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_ports(settings: Settings) -> dict[str, int]:
    try:
        return read_state(_ports_file(settings), _parse_ports) or {}
    except CorruptState:
        with _ports_lock(settings):
            return _read_or_rebuild_ports(settings)


def _read_or_rebuild_ports(settings: Settings) -> dict[str, int]:
    """The remembered ports; a corrupt file is rebuilt from the running services. Hold _ports_lock."""
    path = _ports_file(settings)
    try:  # another command may have rebuilt it meanwhile
        return read_state(path, _parse_ports) or {}
    except CorruptState as exc:
        ports = running_ports(settings)
        bad = set_aside(path)
        write_atomic(path, _dump(ports))
        found = ", ".join(f"{name} {port}" for name, port in sorted(ports.items())) or "none is running"
        warn(
            f"{path} {exc.reason}; moved it to {bad.name} and rebuilt it from the running services ({found})"
        )
        return ports


def _dump(ports: dict[str, Any]) -> str:
    return json.dumps(ports, indent=2, sort_keys=True) + "\n"


def remember_port(settings: Settings, service: str, port: int) -> None:
    with _ports_lock(settings):
        ports = _read_or_rebuild_ports(settings)
        if ports.get(service) == port:
            return
        ports[service] = port
        write_atomic(_ports_file(settings), _dump(ports))


# the PID file whose process listens on a service's port (PostgreSQL and the registry say it themselves)
PORT_OWNERS = {"superset": "superset.pid", "dagster": "dagster-webserver.pid"}


def running_ports(settings: Settings) -> dict[str, int]:
    """The ports the running embedded services listen on, asked of the processes themselves."""
    from tracktracker_assets.services.mongo import EmbeddedMongo
    from tracktracker_assets.services.postgres import EmbeddedPostgres
    from tracktracker_assets.services.processes import listening_ports, read_record

    ports: dict[str, int] = {}
    postgres = EmbeddedPostgres(settings).running_port()
    if postgres is not None:
        ports["postgres"] = postgres
    mongo = EmbeddedMongo(settings).running_port()
    if mongo is not None:
        ports["mongo"] = mongo
    for service, pid_name in PORT_OWNERS.items():
        record = read_record(settings.run_dir / pid_name)
        listening = listening_ports(record.pid) if record else []
        if listening:
            ports[service] = listening[0]
    return ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port. With SO_REUSEADDR, as the servers themselves bind:
    connections in TIME_WAIT from before a crash do not stop PostgreSQL from reusing its port, so they
    must not move it to a new one (services started earlier keep the old address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_for(settings: Settings, service: str) -> int:
    """The remembered port of a service, or a new free one if it is unknown or taken."""
    port = read_ports(settings).get(service)
    if port is None or not port_is_free(port):
        port = free_port()
        remember_port(settings, service, port)
    return port
