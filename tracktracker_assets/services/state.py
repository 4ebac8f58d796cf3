"""Ports chosen for the embedded services, remembered under TRACKTRACKER_HOME/run."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracktracker_assets.settings import Settings


def _ports_file(settings: Settings) -> Path:
    return settings.run_dir / "ports.json"


def read_ports(settings: Settings) -> dict[str, int]:
    path = _ports_file(settings)
    if not path.exists():
        return {}
    return {k: int(v) for k, v in json.loads(path.read_text()).items()}


def remember_port(settings: Settings, service: str, port: int) -> None:
    ports = read_ports(settings)
    ports[service] = port
    path = _ports_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ports, indent=2, sort_keys=True))
    tmp.replace(path)


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
