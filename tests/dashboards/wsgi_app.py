"""A tiny WSGI app for the front's tests (tests/dashboards/test_front.py), served by gunicorn with the
front's worker exactly as Superset is:
`tracktracker_assets.dashboards.front:application('tests.dashboards.wsgi_app:app')`."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs


def _json(start_response: Callable[..., Any], payload: dict[str, Any], status: str = "200 OK") -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(parts: int, delay: float) -> Iterator[bytes]:
    for i in range(parts):
        yield f"part {i} at {time.monotonic():.3f}\n".encode()
        time.sleep(delay)


def _fail_late() -> Iterator[bytes]:
    yield b"the first part\n"
    raise RuntimeError("the tiny app fails halfway on purpose")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]
    if path == "/echo" or path == "/tracktracker/upload":
        body = environ["wsgi.input"].read()
        keep = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "CONTENT_TYPE",
                "REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT", "HTTP_HOST", "HTTP_COOKIE", "HTTP_X_TWICE",
                "HTTP_X_USER", "wsgi.url_scheme", "SCRIPT_NAME")  # fmt: skip
        return _json(start_response, {
            "environ": {k: environ[k] for k in keep if k in environ},
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "pid": os.getpid(),
        })  # fmt: skip
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(int(query.get("parts", 3)), float(query.get("delay", 0.2)))
    if path == "/big":
        size = int(query["bytes"])
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        )
        block = b"x" * (1 << 20)
        return (block[: min(len(block), size - i)] for i in range(0, size, len(block)))
    if path == "/file":
        size = int(query["bytes"])
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the server through the wrapper)
        handle.write((bytes(range(256)) * (size // 256 + 1))[:size])
        handle.seek(0)
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        )
        return environ["wsgi.file_wrapper"](handle, 8192)
    if path == "/short":  # an app that declares more than it sends
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return [b"x" * 40]
    if path == "/sleep":
        time.sleep(float(query["s"]))
        return _json(start_response, {"slept": float(query["s"]), "pid": os.getpid()})
    if path == "/fail":
        raise RuntimeError("the tiny app fails on purpose")
    if path == "/fail-late":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _fail_late()
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
