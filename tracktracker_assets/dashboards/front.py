"""Superset's front: an ASGI app around Superset's WSGI app, so that slow clients hold no thread.

gunicorn runs `Worker` (uvicorn's event loop with the h11 HTTP/1.1 parser) serving `application()`.
A request's head and its whole body are received on the event loop, within limits, before Superset's
WSGI app is called in a bounded thread pool; the thread hands its response to a spool and is free
again, and the event loop writes the response out at the client's pace. A thread is held only while
Superset works, never while a client trickles its request or reads its answer slowly.

Limits (settings in tracktracker_assets/settings.py):
- the request head must arrive within TRACKTRACKER_SUPERSET_HEADER_TIMEOUT_S and fit in 1 MiB;
- a body may be at most TRACKTRACKER_SUPERSET_MAX_BODY_MB, on the upload page the upload limit
  (TRACKTRACKER_MAX_UPLOAD_MB plus room for the form); a larger one is refused with 413 before it is read,
  and on the upload page Superset is asked with an empty body, so that its page explains the limit;
- a body must average TRACKTRACKER_SUPERSET_BODY_MIN_RATE_KB once its first TRACKTRACKER_SUPERSET_BODY_GRACE_S
  are over, never pause longer than that grace, and end within TRACKTRACKER_SUPERSET_BODY_TIMEOUT_S
  (TRACKTRACKER_SUPERSET_UPLOAD_TIMEOUT_S on the upload page), or it is cut off with 408;
- a client that takes no byte of its answer for SEND_TIMEOUT_S is disconnected.
Bodies and answers past 256 KiB wait in unnamed files under TRACKTRACKER_HOME/spool (0700). gunicorn's
--timeout restarts a worker whose event loop hangs, and also one whose every thread has been stuck on
a request for longer than that timeout.

Not asgiref's WsgiToAsgi (it runs every call on one thread unless told otherwise) nor a2wsgi (it streams
the body into the WSGI thread, which then waits on a slow client): both keep a thread on the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from gunicorn.workers.base import Worker as GunicornWorker
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("tracktracker.front")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Headers = list[tuple[bytes, bytes]]

UPLOAD_PATH = "/tracktracker/upload"
MAX_HEAD_BYTES = 1 << 20  # Superset's GET URLs carry whole chart definitions
MEMORY_BYTES = 256 << 10  # of a body or an unsent answer kept in memory; past it, an unnamed file
BACKLOG_BYTES = 256 << 20  # unsent answer past which the thread waits for its client after all
SEND_TIMEOUT_S = 60.0
LINGER_S, LINGER_IDLE_S = 10.0, 2.0
BLOCK = 64 << 10
CLOSE = (b"connection", b"close")


# ---- limits ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    max_body: int
    max_upload: int
    header_timeout_s: float
    grace_s: float
    min_rate: float  # bytes per second
    body_timeout_s: float
    upload_timeout_s: float

    @classmethod
    def from_env(cls) -> Limits:
        from tracktracker_assets.dashboards.config import bi_settings, upload_request_bytes
        from tracktracker_assets.settings import get_settings

        bi = bi_settings()
        return cls(
            max_body=bi.max_body_mb << 20,
            max_upload=upload_request_bytes(get_settings().max_upload_bytes),
            header_timeout_s=bi.header_timeout_s,
            grace_s=bi.body_grace_s,
            min_rate=bi.body_min_rate_kb * 1024,
            body_timeout_s=bi.body_timeout_s,
            upload_timeout_s=bi.upload_timeout_s,
        )

    def for_request(self, method: str, path: str) -> tuple[int, float, bool]:
        """(largest body, seconds it may take, is the upload page) for this request."""
        if method == "POST" and path.rstrip("/") == UPLOAD_PATH:
            return self.max_upload, self.upload_timeout_s, True
        return self.max_body, self.body_timeout_s, False


@dataclass
class BodyClock:
    """When a request body becomes too slow: past its deadline, after a pause longer than the grace, or
    once the grace is over with an average rate below the minimum."""

    start: float
    grace_s: float
    min_rate: float
    timeout_s: float
    received: int = 0
    last: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.last = self.last or self.start

    def got(self, size: int, now: float) -> None:
        self.received += size
        self.last = now

    def _limits(self) -> tuple[float, float, float]:
        """(deadline, end of the allowed pause, when the average rate falls below the minimum)."""
        rate_floor = self.start + max(self.grace_s, self.received / self.min_rate)
        return self.start + self.timeout_s, self.last + self.grace_s, rate_floor

    def cutoff(self) -> float:
        """The moment the body is too slow unless another byte arrives before."""
        return min(self._limits())

    def why(self) -> str:
        """The rule that cutoff() applied, in words."""
        deadline, pause, rate_floor = self._limits()
        if deadline <= min(pause, rate_floor):
            return f"it was not complete after {self.timeout_s:.0f} s"
        if pause <= rate_floor:
            return f"nothing arrived for {self.grace_s:.0f} s"
        rate = self.received / (rate_floor - self.start) / 1024
        return f"it came at {rate:.1f} KB/s, below the {self.min_rate / 1024:.0f} KB/s needed"


class Refused(Exception):
    """A request the front answers itself (413, 408) without Superset seeing its body."""

    def __init__(self, status: int, message: str, received: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.received = received


class ClientGone(Exception):
    """The client disconnected: stop producing its answer."""


def content_length(headers: Headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value)  # h11 has already refused a malformed one
    return None


async def read_body(
    receive: Receive, *, declared: int | None, limit: int, clock: BodyClock, spool_dir: Path
) -> tuple[IO[bytes], int]:
    """The whole request body, in memory or (past MEMORY_BYTES) in an unnamed file; raises Refused."""
    if declared is not None and declared > limit:
        raise Refused(413, _too_large(limit), 0)
    body = tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES, dir=spool_dir)  # noqa: SIM115 (returned)
    try:
        while True:
            wait = clock.cutoff() - time.monotonic()
            try:
                if wait <= 0:
                    raise TimeoutError
                async with asyncio.timeout(wait):
                    message = await receive()
            except TimeoutError:
                raise Refused(408, _too_slow(clock.why()), clock.received) from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            if chunk:
                clock.got(len(chunk), time.monotonic())
                if clock.received > limit:
                    raise Refused(413, _too_large(limit), clock.received)
                body.write(chunk)
            if not message.get("more_body", False):
                body.seek(0)
                return body, clock.received
    except BaseException:
        body.close()
        raise


def _too_large(limit: int) -> str:
    return (
        f"The request body is larger than the {limit >> 20} MB Superset accepts here, so none of it was "
        f"read. Spotify exports go through the upload page, {UPLOAD_PATH}."
    )


def _too_slow(why: str) -> str:
    return f"The request body arrived too slowly ({why}) and was cut off; send it again."


def refusal(status: int, message: str, path: str) -> tuple[Headers, bytes]:
    """Headers and body of the front's own answer: JSON like Superset's API on /api/, text elsewhere."""
    if path.startswith("/api/"):
        body, kind = json.dumps({"message": message}).encode(), b"application/json"
    else:
        body, kind = (message + "\n").encode(), b"text/plain; charset=utf-8"
    return [(b"content-type", kind), (b"content-length", str(len(body)).encode()), CLOSE], body


# ---- WSGI -------------------------------------------------------------------------------------------------
def wsgi_environ(scope: Scope, body: IO[bytes], length: int) -> dict[str, Any]:
    """PEP 3333's environ for a request whose body has been received whole."""
    root = scope.get("root_path", "")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = unquote_to_bytes(raw_path).decode("latin-1")  # WSGI strings are bytes as latin-1
    script = root.encode().decode("latin-1")
    if script and path.startswith(script):
        path = path[len(script) :]
    host, port = scope.get("server") or ("localhost", None)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": host,
        "SERVER_PORT": str(port or ""),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        # the body is whole, so its length is known even when it came chunked
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        # "X_User" and "X-User" would both become HTTP_X_USER: drop the ambiguous spelling (as gunicorn does)
        if "_" in name or name in ("content-length", "transfer-encoding"):
            continue
        key = name.upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else "HTTP_" + key
        value = raw_value.decode("latin-1")
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


class FileWrapper:
    """wsgi.file_wrapper: a file answer (Superset's static assets) is handed to the event loop, which
    sends it block by block without a thread."""

    def __init__(self, filelike: IO[bytes], block_size: int = BLOCK) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Any:
        while chunk := self.filelike.read(self.block_size):
            yield chunk

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


class ResponseSpool:
    """An answer on its way from a WSGI thread (the writer) to the event loop (the reader).

    The writer never waits for the client, unless BACKLOG_BYTES of the answer are unsent: up to
    MEMORY_BYTES unsent stay in memory, more goes to an unnamed file until the reader has caught up.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        spool_dir: Path,
        *,
        memory_bytes: int = MEMORY_BYTES,
        backlog_bytes: int = BACKLOG_BYTES,
    ) -> None:
        self._loop, self._dir = loop, spool_dir
        self._memory_bytes, self._backlog_bytes = memory_bytes, backlog_bytes
        self._lock = threading.Condition()
        self._wake = asyncio.Event()
        self._chunks: deque[bytes] = deque()
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._spilling = False
        self._written = self._read = 0  # positions in the file
        self._done = False
        self.head: tuple[int, Headers] | None = None
        self.file_body: FileWrapper | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    # -- writer (a pool thread) --
    def start(self, status: int, headers: Headers, file_body: FileWrapper | None = None) -> None:
        """The head; with file_body, the whole answer: a file the event loop sends itself. Both are
        published at once, so the event loop never sees the head of a file answer without its file."""
        with self._lock:
            self.head = (status, headers)
            if file_body is not None:
                self.file_body = file_body
                self._done = True
        self._notify()

    def write(self, data: bytes) -> None:
        with self._lock:
            while not self.abandoned and self._pending() > self._backlog_bytes:
                self._lock.wait(1.0)
            if self.abandoned:
                raise ClientGone
            if not self._spilling and self._in_memory + len(data) > self._memory_bytes:
                self._spilling = True
                if self._file is None:
                    self._file = tempfile.TemporaryFile(dir=self._dir)  # noqa: SIM115 (closed by close())
            if self._spilling:
                assert self._file is not None
                os.pwrite(self._file.fileno(), data, self._written)
                self._written += len(data)
            else:
                self._chunks.append(data)
                self._in_memory += len(data)
        self._notify()

    def finish(self, error: BaseException | None = None) -> None:
        with self._lock:
            self.error = error
            self._done = True
        self._notify()

    def _pending(self) -> int:
        return self._in_memory + self._written - self._read

    def _notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is closed: the worker is exiting
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- reader (the event loop) --
    async def _until(self, ready: Callable[[], bool]) -> None:
        while True:
            with self._lock:
                if ready():
                    return
                self._wake.clear()
            await self._wake.wait()

    async def wait_head(self) -> None:
        await self._until(lambda: self.head is not None or self._done)

    async def read(self) -> bytes | None:
        """The next part of the body; None at its end (then `error` tells whether the writer failed)."""
        await self._until(lambda: bool(self._chunks) or self._read < self._written or self._done)
        with self._lock:
            if self._chunks:
                data = self._chunks.popleft()
                self._in_memory -= len(data)
            elif self._read < self._written:
                assert self._file is not None
                data = os.pread(self._file.fileno(), min(BLOCK, self._written - self._read), self._read)
                self._read += len(data)
                if self._read == self._written:  # caught up: back to memory, the file is reused from 0
                    self._spilling, self._read, self._written = False, 0, 0
            else:
                return None
            self._lock.notify_all()
            return data

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            self._lock.notify_all()

    def close(self) -> None:
        self.abandon()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._chunks.clear()


def run_wsgi(app: WSGIApp, environ: dict[str, Any], spool: ResponseSpool) -> None:
    """Call the WSGI app and feed its answer into the spool (in a pool thread)."""
    if spool.abandoned:  # the client left while the request waited for a thread
        environ["wsgi.input"].close()
        spool.finish()  # the event loop waits for a head or the end: without it, it would wait forever
        return
    given: list[Any] = []  # status and headers from start_response, sent with the first body bytes
    sent = False

    def send_head(file_body: FileWrapper | None = None) -> None:
        nonlocal sent
        if not sent:
            if not given:
                raise RuntimeError("the WSGI app returned without calling start_response")
            status, headers = given
            encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            spool.start(int(status.split(" ", 1)[0]), encoded, file_body)
            sent = True

    def write(data: bytes) -> None:
        if data:
            send_head()
            spool.write(data)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None:
            if sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif given:
            raise RuntimeError("start_response was called twice without exc_info")
        given[:] = [status, headers]
        return write

    result: Any = None
    try:
        result = app(environ, start_response)
        if isinstance(result, FileWrapper) and hasattr(result.filelike, "read"):
            send_head(file_body=result)
            result = None  # the event loop sends and closes it
            return
        for chunk in result:
            write(chunk)
        send_head()
        spool.finish()
    except ClientGone:
        spool.finish()
    except BaseException as exc:
        log.exception("Superset failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        spool.finish(exc)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the answer to %s failed", environ["PATH_INFO"])
        environ["wsgi.input"].close()


class Pool:
    """The threads Superset runs in; knows how long each busy thread has been at its request."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: ThreadPoolExecutor | None = None
        self._busy: dict[int, float] = {}
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="superset")
        self._executor.submit(self._tracked, fn, args)

    def _tracked(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        key = threading.get_ident()
        with self._lock:
            self._busy[key] = time.monotonic()
        try:
            fn(*args)
        finally:
            with self._lock:
                del self._busy[key]

    def stuck(self, threshold_s: float) -> bool:
        """Every thread busy, each on the same request for longer than threshold_s."""
        now = time.monotonic()
        with self._lock:
            return len(self._busy) >= self.size and all(now - t > threshold_s for t in self._busy.values())

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


# ---- the ASGI app -----------------------------------------------------------------------------------------
class SlowReader(Exception):
    """The client took no byte of its answer for SEND_TIMEOUT_S."""


class Front:
    """ASGI app: receive the whole request, run the WSGI app in the pool, send its answer."""

    def __init__(self, app: WSGIApp, limits: Limits, spool_dir: Path, threads: int = 8) -> None:
        self.app = app
        self.limits = limits
        self.spool_dir = spool_dir
        spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        spool_dir.chmod(0o700)
        self.pool = Pool(threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            raise RuntimeError(f"Superset serves no {scope['type']} connections")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        limit, timeout_s, upload = self.limits.for_request(method, path)
        declared = content_length(scope["headers"])
        clock = BodyClock(time.monotonic(), self.limits.grace_s, self.limits.min_rate, timeout_s)
        try:
            body, length = await read_body(
                receive, declared=declared, limit=limit, clock=clock, spool_dir=self.spool_dir
            )
        except ClientGone:
            return
        except Refused as refused:
            log.warning("%s %s refused with %d: %s", method, path, refused.status, refused.message)
            if refused.status == 413 and upload:
                # Superset refuses the declared length before reading (MAX_CONTENT_LENGTH is the same
                # limit) and its upload page explains it; the body is not passed on
                environ = wsgi_environ(scope, io.BytesIO(), max(declared or 0, refused.received))
                await self._answer(environ, receive, send, linger=True)
                return
            headers, text = refusal(refused.status, refused.message, path)
            start = {"type": "http.response.start", "status": refused.status, "headers": headers}
            try:
                await _send(send, start)
                await _send(send, {"type": "http.response.body", "body": text, "more_body": True})
                await drop_body(receive)
                await _send(send, {"type": "http.response.body", "body": b"", "more_body": False})
            except SlowReader:
                pass
            return
        await self._answer(wsgi_environ(scope, body, length), receive, send, linger=False)

    async def _answer(self, environ: dict[str, Any], receive: Receive, send: Send, *, linger: bool) -> None:
        """Run the WSGI app in the pool and send its answer from the spool.

        linger: the request body was not read; after the answer, read and drop it for a while (the
        client then sees the answer, not a reset connection) and close the connection.
        """
        spool = ResponseSpool(asyncio.get_running_loop(), self.spool_dir)
        watcher = None if linger else asyncio.ensure_future(_watch(receive, spool))
        try:
            self.pool.submit(run_wsgi, self.app, environ, spool)
            await spool.wait_head()
            if spool.head is None and spool.abandoned:  # the client left before a thread took it
                return
            if spool.head is None:  # the app failed before it answered (logged by run_wsgi)
                headers, text = refusal(500, "Internal Server Error", "")
                await _send(send, {"type": "http.response.start", "status": 500, "headers": headers})
                await _send(send, {"type": "http.response.body", "body": text})
                return
            status, headers = spool.head
            await _send(send, {"type": "http.response.start", "status": status,
                               "headers": [*headers, CLOSE] if linger else headers})  # fmt: skip
            sent = 0
            if spool.file_body is not None:
                wrapper = spool.file_body
                try:
                    while chunk := wrapper.filelike.read(wrapper.block_size):
                        sent += len(chunk)
                        await _send(send, {"type": "http.response.body", "body": chunk, "more_body": True})
                finally:
                    wrapper.close()
            else:
                while (chunk := await spool.read()) is not None:
                    sent += len(chunk)
                    await _send(send, {"type": "http.response.body", "body": chunk, "more_body": True})
                if spool.error is not None:  # failed halfway (logged): left incomplete, uvicorn closes
                    return
            if spool.abandoned:  # the client left (a browser navigating away): the cut is its own
                return
            declared = content_length(headers)
            if declared is not None and sent < declared and _has_body(environ["REQUEST_METHOD"], status):
                # ending it would raise inside h11 ("Too little data"), naming nothing: say which answer
                # it was, and leave it incomplete (uvicorn closes the connection; the client sees it cut)
                method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
                log.error("%s %s: Superset's answer (%d) ended after %d of the %d bytes it declared",
                          method, path, status, sent, declared)  # fmt: skip
                return
            if linger:
                await drop_body(receive)
            await _send(send, {"type": "http.response.body", "body": b"", "more_body": False})
        except SlowReader:
            log.warning("%s %s: the client took nothing for %.0f s and was disconnected",
                        environ["REQUEST_METHOD"], environ["PATH_INFO"], SEND_TIMEOUT_S)  # fmt: skip
        finally:
            spool.close()
            if watcher is not None:
                watcher.cancel()

    def stuck(self, threshold_s: float) -> bool:
        return self.pool.stuck(threshold_s)


def _has_body(method: str, status: int) -> bool:
    """Whether an answer to this request carries the body its Content-Length counts."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


async def _send(send: Send, message: Message) -> None:
    try:
        async with asyncio.timeout(SEND_TIMEOUT_S):
            await send(message)
    except TimeoutError:
        raise SlowReader from None


async def _watch(receive: Receive, spool: ResponseSpool) -> None:
    """Tell the writer when the client goes away (the body is whole: receive() waits for that)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    spool.abandon()


async def drop_body(receive: Receive) -> None:
    """Read and drop the rest of a refused body for up to LINGER_S (while it keeps coming), so that the
    connection is closed with nothing unread: otherwise the kernel resets it, and a client still sending
    may lose the answer it has been sent."""
    end = time.monotonic() + LINGER_S
    while (left := end - time.monotonic()) > 0:
        try:
            async with asyncio.timeout(min(LINGER_IDLE_S, left)):
                message = await receive()
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def application(target: str = "superset.app:create_app()") -> Front:
    """What gunicorn serves: the WSGI app `target` (module:attribute or module:factory()) behind the front."""
    from gunicorn.util import import_app

    from tracktracker_assets.settings import get_settings

    return Front(import_app(target), Limits.from_env(), get_settings().home / "spool")


# ---- the gunicorn worker ----------------------------------------------------------------------------------
def _protocol(head_timeout_s: float) -> type[H11Protocol]:
    class Protocol(H11Protocol):
        """uvicorn's h11 protocol with a deadline on every request head: a connection that does not
        deliver a complete head in time (a new one, or a kept-alive one after an answer) is closed."""

        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            self._arm()  # before: a pipelined request waiting already disarms it in handle_events
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(head_timeout_s, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return Protocol


class Worker(GunicornWorker):
    """gunicorn worker: uvicorn's server (event loop, h11) running `Front`; `--threads` sizes its pool.

    The heartbeat to gunicorn's arbiter stops while every thread has been stuck for longer than
    `--timeout`, so that gunicorn replaces the worker as it does when the event loop itself hangs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import uvicorn

        for name, source in (("uvicorn.error", self.log.error_log), ("uvicorn.access", self.log.access_log)):
            logger = logging.getLogger(name)
            logger.handlers = source.handlers
            logger.setLevel(source.level)
            logger.propagate = False
        if self.cfg.is_ssl:
            raise RuntimeError("TLS for Superset belongs to a reverse proxy in front of it, not to gunicorn")
        self._stuck_logged = False
        self.config = uvicorn.Config(
            app=None,
            log_config=None,
            http=_protocol(Limits.from_env().header_timeout_s),
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            ws="none",
            lifespan="on",
            interface="asgi3",
            # Superset sees the socket's peer and scheme, as under gunicorn's own workers (a proxy's
            # X-Forwarded-* would let any local client choose its address)
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=self.cfg.keepalive,
            timeout_notify=self.timeout,
            callback_notify=self._heartbeat,
            timeout_graceful_shutdown=self.cfg.graceful_timeout,
            limit_max_requests=self.max_requests,
            backlog=self.cfg.backlog,
        )

    def load_wsgi(self) -> None:
        super().load_wsgi()
        if isinstance(self.wsgi, Front):
            self.wsgi.pool.size = self.cfg.threads

    def init_signals(self) -> None:
        # uvicorn handles SIGINT/SIGTERM itself; the rest back to their defaults (gunicorn's SIGABRT kills)
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.siginterrupt(signal.SIGUSR1, False)

    def run(self) -> None:
        with asyncio.Runner(loop_factory=self.config.get_loop_factory()) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        import uvicorn
        from gunicorn.arbiter import Arbiter

        self.config.app = self.wsgi
        server = uvicorn.Server(config=self.config)

        def quit_now() -> None:
            server.should_exit = server.force_exit = True

        asyncio.get_running_loop().add_signal_handler(signal.SIGQUIT, quit_now)
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def _heartbeat(self) -> None:
        if self.cfg.timeout > 0 and isinstance(self.wsgi, Front) and self.wsgi.stuck(self.cfg.timeout):
            if not self._stuck_logged:
                self.log.critical(
                    "every Superset thread (%d) has been on one request for over %d s: no heartbeat, so "
                    "gunicorn replaces this worker", self.wsgi.pool.size, self.cfg.timeout,
                )  # fmt: skip
                self._stuck_logged = True
            return
        self.notify()
