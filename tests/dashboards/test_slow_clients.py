"""Slow clients do not freeze Superset (issue 9): 50 connections trickling request bodies, to the login
page, the upload page and the chart API, while /health and a listener's chart still answer within 2 s;
bodies too large for their route are refused before they are read; too slow ones are cut off.

Superset runs as `up` runs it (bi.service.gunicorn_argv, the front of tracktracker_assets/dashboards/front.py)
with the default limits: a body must average 16 KB/s once its first 10 s are over.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from tracktracker_assets.dashboards.config import bi_settings, upload_request_bytes

from .conftest import UPLOAD_LIMIT_MB, BIStack

pytestmark = pytest.mark.slow
TRICKLING = 50
ANSWER_WITHIN_S = 2.0


def _open(stack: BIStack) -> socket.socket:
    parts = urlsplit(stack.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def _head(path: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the answer on a connection (the front's own answers carry their length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")
        )
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(body)} of {length} bytes"
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def test_trickling_clients_freeze_nobody_and_are_cut_off(bi_stack: BIStack) -> None:
    grace_s = bi_settings().body_grace_s
    routes = [
        ("/login/", "application/x-www-form-urlencoded"),
        ("/tracktracker/upload", "multipart/form-data; boundary=x"),
        ("/api/v1/chart/data", "application/json"),
    ]
    alice = bi_stack.listener("alice")  # signed in before the load starts
    chart = bi_stack.provisioned.charts["Data freshness"]
    # once before the load: a first answer (alice's connection, the chart's first query) costs what it
    # costs whatever the load, up to ~3 s on a busy machine; this test times the answers under the load
    (warm,) = alice.saved_chart_data(chart)
    assert warm["status"] == "success", warm
    began = time.monotonic()
    socks = []
    for i in range(TRICKLING):
        path, kind = routes[i % len(routes)]
        sock = _open(bi_stack)
        sock.sendall(_head(path, 1_000_000, kind))
        socks.append(sock)
    stop = threading.Event()

    def trickle() -> None:  # one byte per connection every half second: 2 B/s
        while not stop.wait(0.5):
            for sock in socks:
                with contextlib.suppress(OSError):  # cut off by the front: expected past the grace
                    sock.send(b"a")

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        health, charts = [], []
        while time.monotonic() - began < grace_s / 2:
            t = time.monotonic()
            assert requests.get(bi_stack.url + "/health", timeout=10).text == "OK"
            health.append(time.monotonic() - t)
            t = time.monotonic()
            (result,) = alice.saved_chart_data(chart)
            charts.append(time.monotonic() - t)
            assert result["status"] == "success" and result["data"], result
        print(f"\n{TRICKLING} trickling: /health max {max(health):.3f} s over {len(health)}, "
              f"alice's chart max {max(charts):.3f} s over {len(charts)}")  # fmt: skip
        assert max(health) < ANSWER_WITHIN_S and max(charts) < ANSWER_WITHIN_S, (health, charts)
        # past the grace the front cuts every one of them off with 408
        for sock in socks:
            sock.settimeout(grace_s + 10 - (time.monotonic() - began))
        answers = [_answer(sock) for sock in socks]
    finally:
        stop.set()
        trickler.join()
        for sock in socks:
            sock.close()
    assert {status for status, _ in answers} == {408}, answers[:3]
    assert all(b"arrived too slowly" in body for _, body in answers)
    assert json.loads(answers[2][1])["message"].startswith("The request body arrived too slowly")
    assert time.monotonic() - began < grace_s + 10


@pytest.mark.parametrize("path", ["/login/", "/api/v1/chart/data", "/api/v1/security/login"])
def test_a_too_large_body_is_refused_before_it_is_read(bi_stack: BIStack, path: str) -> None:
    limit_mb = bi_settings().max_body_mb
    with _open(bi_stack) as sock:
        sock.sendall(_head(path, (limit_mb + 1) << 20, "application/json"))
        sock.sendall(b" " * 65536)  # 6 % of it
        status, body = _answer(sock)
    assert status == 413
    message = json.loads(body)["message"] if path.startswith("/api/") else body.decode()
    assert f"larger than the {limit_mb} MB Superset accepts here" in message
    # within the limit, the same route answers as usual
    login = requests.post(bi_stack.url + "/api/v1/security/login", timeout=30,
                          json={"username": "alice", "password": "wrong", "provider": "db"})  # fmt: skip
    assert login.status_code == 401


def test_an_anonymous_upload_over_the_limit_gets_a_plain_413(bi_stack: BIStack) -> None:
    """The upload page's own 413 page needs a signed-in listener; anyone else gets werkzeug's."""
    declared = upload_request_bytes(UPLOAD_LIMIT_MB << 20) + 1
    with _open(bi_stack) as sock:
        sock.sendall(_head("/tracktracker/upload", declared, "multipart/form-data; boundary=x"))
        sock.sendall(b"-" * 65536)
        status, body = _answer(sock)
    assert status == 413 and b"Request Entity Too Large" in body
