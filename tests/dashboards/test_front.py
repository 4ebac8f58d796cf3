"""Superset's front (tracktracker_assets/dashboards/front.py) without Superset: its pure parts, then
gunicorn with
the front's worker serving a tiny WSGI app (tests/dashboards/wsgi_app.py) through the real gunicorn_argv, over
sockets on 127.0.0.1. All load is a few seconds at most."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tracktracker_assets.dashboards import front, service
from tracktracker_assets.dashboards.config import default_threads, default_workers, upload_request_bytes

GRACE_S = 2
MAX_BODY_MB = 2
UPLOAD_MB = 2  # the upload page's limit is this plus the form's room
THREADS = 2


# ---- pure parts -------------------------------------------------------------------------------------------
def test_a_body_is_too_slow_by_pause_rate_or_deadline() -> None:
    clock = front.BodyClock(start=100.0, grace_s=10, min_rate=1000, timeout_s=60)
    assert clock.cutoff() == 110.0  # nothing yet: the grace
    clock.got(50_000, now=105.0)
    assert clock.cutoff() == 115.0 and "nothing arrived for 10 s" in clock.why()  # a pause
    clock.got(1_000, now=114.0)
    assert clock.cutoff() == 124.0  # 51 kB at 1 kB/s lasts until 151, the pause rule comes first
    clock = front.BodyClock(start=100.0, grace_s=10, min_rate=1000, timeout_s=60)
    for t in range(101, 130):
        clock.got(500, now=float(t))  # steady, but half the minimum rate
    assert clock.cutoff() == pytest.approx(114.5) and "below the 1 KB/s needed" in clock.why()
    clock = front.BodyClock(start=100.0, grace_s=10, min_rate=1, timeout_s=60)
    clock.got(10**9, now=159.0)
    assert clock.cutoff() == 160.0 and "not complete after 60 s" in clock.why()


def test_limits_give_the_upload_page_its_own() -> None:
    limits = front.Limits(16 << 20, 2064 << 20, 20, 10, 16384, 60, 3600)
    assert limits.for_request("POST", "/tracktracker/upload") == (2064 << 20, 3600, True)
    assert limits.for_request("POST", "/tracktracker/upload/") == (2064 << 20, 3600, True)
    assert limits.for_request("POST", "/login/") == (16 << 20, 60, False)
    assert limits.for_request("POST", "/tracktracker/spotify/connect") == (16 << 20, 60, False)
    assert limits.for_request("PUT", "/tracktracker/upload") == (16 << 20, 60, False)
    assert upload_request_bytes(2048 << 20) == (2048 + 16) << 20


def test_workers_and_threads_follow_cores_and_memory() -> None:
    gib = 1 << 30
    assert [default_workers(c, 64 * gib) for c in (1, 2, 3, 4, 8, 64)] == [1, 2, 3, 4, 4, 4]
    assert default_workers(16, 3 * gib) == 1 and default_workers(16, 5 * gib) == 2
    assert default_workers(8, None) == 4
    threads = [default_threads(c, default_workers(c, 64 * gib)) for c in (1, 2, 4, 8, 16, 64)]
    assert threads == [4, 4, 4, 8, 8, 8]
    assert default_threads(2, 1) == 8  # TRACKTRACKER_SUPERSET_WORKERS=1 on 2 cores: as before the front


def test_the_wsgi_environ_is_pep_3333s() -> None:
    scope = {
        "type": "http", "method": "POST", "http_version": "1.1", "scheme": "http",
        "path": "/sub/caf\u00e9 x", "raw_path": b"/sub/caf%C3%A9%20x", "root_path": "/sub",
        "query_string": b"q=%20a&b=1", "server": ("127.0.0.1", 8088), "client": ("127.0.0.2", 5555),
        "headers": [
            (b"host", b"example.test"), (b"content-type", b"application/json"),
            (b"content-length", b"999"), (b"transfer-encoding", b"chunked"),
            (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"x-twice", b"1"), (b"x-twice", b"2"),
            (b"x_user", b"smuggled"), (b"x-user", b"real"),
        ],
    }  # fmt: skip
    env = front.wsgi_environ(scope, io.BytesIO(b"{}"), 2)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/sub", "/caf\u00c3\u00a9 x")  # UTF-8 bytes as latin-1
    assert env["QUERY_STRING"] == "q=%20a&b=1" and env["CONTENT_LENGTH"] == "2"
    assert env["CONTENT_TYPE"] == "application/json" and "HTTP_TRANSFER_ENCODING" not in env
    assert env["HTTP_COOKIE"] == "a=1; b=2" and env["HTTP_X_TWICE"] == "1,2" and env["HTTP_X_USER"] == "real"
    assert (env["REMOTE_ADDR"], env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.2", "127.0.0.1", "8088")
    assert env["HTTP_HOST"] == "example.test" and env["wsgi.url_scheme"] == "http"
    assert env["wsgi.input"].read() == b"{}" and env["wsgi.file_wrapper"] is front.FileWrapper


def test_refusals_are_json_on_the_api_and_text_elsewhere() -> None:
    headers, body = front.refusal(413, "too big", "/api/v1/chart/data")
    assert json.loads(body) == {"message": "too big"} and (b"connection", b"close") in headers
    headers, body = front.refusal(408, "too slow", "/login/")
    assert body == b"too slow\n" and dict(headers)[b"content-length"] == b"9"


def _receive(*parts: bytes, delay: float = 0.0, disconnect: bool = False) -> front.Receive:
    queue = list(parts)

    async def receive() -> dict:
        await asyncio.sleep(delay)
        if not queue:
            if disconnect:
                return {"type": "http.disconnect"}
            await asyncio.sleep(3600)
        part = queue.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(queue) or disconnect}

    return receive


def test_read_body_receives_within_limits(tmp_path: Path) -> None:
    def read(receive: front.Receive, *, declared: int | None = None, limit: int = 3 << 20) -> bytes:
        clock = front.BodyClock(time.monotonic(), 0.3, 1000, 5)
        body, length = asyncio.run(
            front.read_body(receive, declared=declared, limit=limit, clock=clock, spool_dir=tmp_path)
        )
        data = body.read()
        body.close()
        assert len(data) == length
        return data

    big = os.urandom(front.MEMORY_BYTES + 12345)  # past memory: an unnamed file under the spool dir
    assert read(_receive(big[:100_000], big[100_000:])) == big
    assert read(_receive(b"")) == b""
    with pytest.raises(front.Refused) as refused:  # refused on the declared length, nothing received
        read(_receive(), declared=(3 << 20) + 1)
    assert refused.value.status == 413 and refused.value.received == 0
    with pytest.raises(front.Refused) as refused:  # chunked: refused once past the limit
        read(_receive(*[b"x" * (1 << 20)] * 5))
    assert refused.value.status == 413 and refused.value.received == 4 << 20
    began = time.monotonic()
    with pytest.raises(front.Refused) as refused:
        read(_receive(b"a", b"b", delay=0.2))  # 1 byte every 0.2 s: below 1000 B/s after the grace
    assert refused.value.status == 408 and time.monotonic() - began < 1.0
    with pytest.raises(front.ClientGone):
        read(_receive(b"abc", disconnect=True))
    assert list(tmp_path.iterdir()) == []  # unnamed files: nothing left behind


def test_the_spool_keeps_order_across_memory_and_file_and_stops_the_writer_when_the_client_leaves(
    tmp_path: Path,
) -> None:
    parts = [os.urandom(n) for n in (10, 3000, 5000, 100, 70_000, 7, 9000)] * 20

    async def relay() -> bytes:
        spool = front.ResponseSpool(
            asyncio.get_running_loop(), tmp_path, memory_bytes=4096, backlog_bytes=1 << 20
        )

        def writer() -> None:
            spool.start(200, [])
            for part in parts:
                spool.write(part)
            spool.finish()

        thread = threading.Thread(target=writer)
        thread.start()
        await spool.wait_head()
        received = []
        while (chunk := await spool.read()) is not None:
            received.append(chunk)
            await asyncio.sleep(0)
        thread.join()
        spool.close()
        return b"".join(received)

    assert asyncio.run(relay()) == b"".join(parts)

    async def abandoned() -> type[BaseException] | None:
        spool = front.ResponseSpool(asyncio.get_running_loop(), tmp_path, memory_bytes=10, backlog_bytes=100)
        outcome: list[type[BaseException] | None] = [None]

        def writer() -> None:
            try:
                while True:
                    spool.write(b"x" * 50)  # waits once 100 bytes are unsent
            except front.ClientGone as exc:
                outcome[0] = type(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        await asyncio.sleep(0.2)
        assert thread.is_alive()  # held back by the backlog, not running away
        spool.close()
        await asyncio.to_thread(thread.join, 5)
        return outcome[0]

    assert asyncio.run(abandoned()) is front.ClientGone


def test_a_request_whose_client_left_before_a_thread_took_it_ends(tmp_path: Path) -> None:
    """Its answer is never produced, and the event loop does not wait for it forever."""

    def app(environ: dict, start_response: object) -> list[bytes]:
        raise AssertionError("the app is not called for a client that left")

    async def left() -> tuple[object, bool]:
        spool = front.ResponseSpool(asyncio.get_running_loop(), tmp_path)
        spool.abandon()
        await asyncio.to_thread(front.run_wsgi, app, {"wsgi.input": io.BytesIO()}, spool)
        await asyncio.wait_for(spool.wait_head(), 5)
        return spool.head, spool.error is None

    assert asyncio.run(left()) == (None, True)


def test_a_file_answer_is_sent_whole_however_the_threads_interleave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A static asset's head and its file reach the event loop together: when the event loop woke between
    them, it took the answer for one without a body and sent none of it (SQL Lab's editor chunk, in CI)."""
    asset = tmp_path / "chunk.js"
    asset.write_bytes(b"x" * 152)

    def app(environ: dict, start_response: object) -> object:
        start_response("200 OK", [("Content-Type", "text/javascript"), ("Content-Length", "152")])  # type: ignore[operator]
        return environ["wsgi.file_wrapper"](asset.open("rb"))

    notify = front.ResponseSpool._notify

    def notify_then_yield(spool: front.ResponseSpool) -> None:
        notify(spool)
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.2)  # the WSGI thread pauses after each step: the event loop runs in between

    monkeypatch.setattr(front.ResponseSpool, "_notify", notify_then_yield)
    scope = {
        "type": "http", "method": "GET", "http_version": "1.1", "scheme": "http", "path": "/static/chunk.js",
        "raw_path": b"/static/chunk.js", "root_path": "", "query_string": b"", "headers": [],
        "server": ("127.0.0.1", 8088), "client": ("127.0.0.1", 5555),
    }  # fmt: skip
    served = front.Front(app, front.Limits(16 << 20, 32 << 20, 20, 10, 16384, 60, 3600), tmp_path / "spool")
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        asyncio.run(served(scope, _receive(b""), send))
    finally:
        served.pool.shutdown()
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"x" * 152 and sent[-1]["more_body"] is False


# ---- gunicorn with the front's worker ---------------------------------------------------------------------
@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(tmp: Path, *, threads: int = THREADS, timeout: int | None = None) -> Iterator[Served]:
    """gunicorn as bi.service runs it (gunicorn_argv), serving the tiny app, stopped by its PID."""
    port = _free_port()
    argv = service.gunicorn_argv(
        f"127.0.0.1:{port}",
        1,
        threads,
        "tracktracker_assets.dashboards.front:application('tests.dashboards.wsgi_app:app')",
    )
    if timeout is not None:
        argv[argv.index("--timeout") + 1] = str(timeout)
    env = {
        **os.environ,
        "TRACKTRACKER_HOME": str(tmp),
        "TRACKTRACKER_MAX_UPLOAD_MB": str(UPLOAD_MB),
        "TRACKTRACKER_SUPERSET_MAX_BODY_MB": str(MAX_BODY_MB),
        "TRACKTRACKER_SUPERSET_BODY_GRACE_S": str(GRACE_S),
        "TRACKTRACKER_SUPERSET_BODY_MIN_RATE_KB": "1",
        "TRACKTRACKER_SUPERSET_HEADER_TIMEOUT_S": "1",
    }
    log = tmp / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Served(f"http://127.0.0.1:{port}", port, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(served.url + "/health", timeout=1).text == "OK":
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
            raise AssertionError("gunicorn did not stop on SIGTERM: " + log.read_text()[-2000:]) from None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("front")
    with gunicorn(home) as running:
        yield running
    assert oct((home / "spool").stat().st_mode & 0o777) == "0o700"
    assert list((home / "spool").iterdir()) == []


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one whole answer (the front closes the connection after its own)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def test_requests_reach_the_app_whole(served: Served) -> None:
    big = os.urandom(3 << 19)  # past the in-memory part of the body spool
    response = requests.post(served.url + "/echo?x=%20y", data=big, headers={"Cookie": "a=1"}, timeout=10)
    echo = response.json()
    assert echo["length"] == len(big) and echo["sha256"] == hashlib.sha256(big).hexdigest()
    assert echo["environ"]["REMOTE_ADDR"] == "127.0.0.1" and echo["environ"]["QUERY_STRING"] == "x=%20y"
    assert echo["environ"]["HTTP_HOST"] == f"127.0.0.1:{served.port}"
    assert echo["environ"]["wsgi.url_scheme"] == "http" and echo["environ"]["HTTP_COOKIE"] == "a=1"
    # a chunked body gets its length
    chunked = requests.post(served.url + "/echo", data=iter([b"ab", b"cd"]), timeout=10).json()
    assert chunked["environ"]["CONTENT_LENGTH"] == "4" and chunked["length"] == 4
    # X-Forwarded-* from a local client changes nothing
    forwarded = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
    spoofed = requests.get(served.url + "/echo", headers=forwarded, timeout=10).json()
    assert (
        spoofed["environ"]["REMOTE_ADDR"] == "127.0.0.1" and spoofed["environ"]["wsgi.url_scheme"] == "http"
    )


def test_answers_stream_and_files_are_sent_whole(served: Served) -> None:
    began = time.monotonic()
    with requests.get(served.url + "/stream?parts=3&delay=0.5", stream=True, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines).startswith(b"part 0") and time.monotonic() - began < 0.45  # before the rest exists
        assert [line[:6] for line in lines] == [b"part 1", b"part 2"]
    size = 3_000_001
    response = requests.get(served.url + f"/file?bytes={size}", timeout=10)
    assert response.content == (bytes(range(256)) * (size // 256 + 1))[:size]
    big = requests.get(served.url + "/big?bytes=5000000", timeout=10)
    assert big.content == b"x" * 5_000_000
    failed = requests.get(served.url + "/fail", timeout=10)
    assert failed.status_code == 500 and failed.text.strip() == "Internal Server Error"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # cut, not passed off as complete
        requests.get(served.url + "/fail-late", timeout=10).raise_for_status()


def test_an_answer_short_of_its_content_length_is_cut_and_named(served: Served) -> None:
    """Not handed to h11 to fail on: the client gets the bytes there are and a closed connection, the
    log names the request."""
    with _connect(served) as sock:
        sock.sendall(b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = _answer(sock)
        assert (status, headers["content-length"], body) == (200, "100", b"x" * 40)
        assert sock.recv(1) == b""  # closed, not kept alive as if the answer were whole
    deadline = time.monotonic() + 5
    while "GET /short" not in served.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = served.log.read_text()
    assert "GET /short: Superset's answer (200) ended after 40 of the 100 bytes it declared" in log
    assert "LocalProtocolError" not in log


def test_a_client_that_leaves_is_not_taken_for_a_short_answer(served: Served) -> None:
    """A browser navigating away leaves the answers it was waiting for: that is the client's doing,
    not an answer Superset left short, and the log does not say otherwise."""
    for path in ("/sleep?s=1", "/big?bytes=20000000"):  # left while Superset works; while it is read
        with _connect(served) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if path.startswith("/big"):
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    time.sleep(2)  # the front notices the clients left, and the app's threads end their answers
    assert requests.get(served.url + "/health", timeout=5).status_code == 200
    log = served.log.read_text()
    assert "GET /sleep: Superset's answer" not in log and "GET /big: Superset's answer" not in log


def test_a_too_large_body_is_refused_before_it_is_read(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"POST /api/v1/chart/data HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
        sock.sendall(b"{" * 1000)
        status, headers, body = _answer(sock)  # with 0.001 % of the body sent
    assert status == 413 and headers["connection"] == "close"
    assert f"larger than the {MAX_BODY_MB} MB" in json.loads(body)["message"]
    with _connect(served) as sock:  # chunked: refused once past the limit
        sock.sendall(b"POST /login/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(MAX_BODY_MB * 16 + 1):
            sock.sendall(b"10000\r\n" + b"a" * 65536 + b"\r\n")
        status, _, body = _answer(sock)
    assert status == 413 and b"upload page" in body


def test_the_upload_page_explains_its_own_limit(served: Served) -> None:
    """Over the upload page's limit, the app is asked with the declared length and no body (werkzeug
    then refuses it with the page's own 413)."""
    declared = upload_request_bytes(UPLOAD_MB << 20) + 1
    with _connect(served) as sock:
        sock.sendall(
            f"POST /tracktracker/upload HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        sock.sendall(b"z" * 100_000)
        status, headers, body = _answer(sock)
    echo = json.loads(body)
    assert status == 200 and headers["connection"] == "close"
    assert echo["environ"]["CONTENT_LENGTH"] == str(declared) and echo["length"] == 0
    # within it, the upload page gets bodies far past the limit elsewhere
    data = os.urandom(3 << 20)
    assert requests.post(served.url + "/tracktracker/upload", data=data, timeout=10).json()["length"] == len(
        data
    )


def test_slow_bodies_and_heads_are_cut_off(served: Served) -> None:
    with _connect(served) as sock:
        began = time.monotonic()
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        status, _, body = _answer(sock)
        assert status == 408 and b"too slowly" in body and time.monotonic() - began < GRACE_S + 1
    with _connect(served) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        # closed after the head timeout (counted from the connection, made just before `began`)
        assert sock.recv(100) == b"" and 0.9 <= time.monotonic() - began < 2.5


def test_slow_clients_hold_no_thread(served: Served) -> None:
    """50 clients trickling bodies (fast enough not to be cut off) and 4 reading nothing of 20 MB answers,
    with 2 threads: everyone else is still answered at once."""
    trickling = []
    for i in range(50):
        sock = _connect(served)
        path = ("/echo", "/tracktracker/upload", "/login/")[i % 3]
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode())
        trickling.append(sock)
    readers = []
    for _ in range(4):
        sock = _connect(served)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big?bytes=20000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        readers.append(sock)
    try:
        took = []
        end = time.monotonic() + 2
        while time.monotonic() < end:
            for sock in trickling:
                sock.send(b"a" * 2000)  # ~20 KB/s each: above MIN_RATE_KB
            began = time.monotonic()
            assert requests.get(served.url + "/sleep?s=0.05", timeout=5).status_code == 200
            took.append(time.monotonic() - began)
        assert len(took) > 5 and max(took) < 1.5, took
        for sock in trickling:  # all of them still being received
            sock.send(b"a")
    finally:
        for sock in trickling + readers:
            sock.close()


def test_gunicorn_replaces_a_worker_whose_every_thread_is_stuck(tmp_path: Path) -> None:
    with gunicorn(tmp_path, threads=1, timeout=2) as running:
        before = requests.get(running.url + "/echo", timeout=5).json()["pid"]
        stuck = threading.Thread(
            target=_ignore, args=(requests.get, running.url + "/sleep?s=60"), kwargs={"timeout": 30}
        )
        stuck.start()
        began, after = time.monotonic(), before
        while after == before and time.monotonic() - began < 15:
            time.sleep(0.5)
            with contextlib.suppress(requests.RequestException):  # queued behind the stuck one, then cut
                after = requests.get(running.url + "/echo", timeout=2).json()["pid"]
        assert after != before, running.log.read_text()[-3000:]
        assert "has been on one request for over 2 s" in running.log.read_text()
        replaced_after = time.monotonic() - began
    stuck.join()
    assert replaced_after < 10


def _ignore(call: object, *args: object, **kwargs: object) -> None:
    with contextlib.suppress(requests.RequestException):
        call(*args, **kwargs)  # type: ignore[operator]
