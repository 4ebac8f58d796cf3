"""TrackTracker's front for the Dagster UI: Dagster's own webserver app, wrapped, in one uvicorn process.

The stock `dagster-webserver` has no login, and its GraphQL endpoint runs mutations sent with GET from
any origin, so any web page the operator opens could launch runs or wipe assets. This front builds the
same app the stock CLI builds (instance, WorkspaceProcessContext from workspace.yaml, DagsterWebserver)
and serves it only behind:

- a login (a form and a signed session cookie, HttpOnly and SameSite=Strict) for two accounts:
  `operator` (everything) and `viewer` (read only: Dagster's own read-only mode, so the UI hides launch
  and wipe buttons, and every GraphQL mutation is refused here as well);
- a same-origin check on every request that is not GET/HEAD and on every websocket: another origin
  (e.g. Superset on another port of 127.0.0.1, which browsers count as the *same site*) is refused;
- no GraphQL mutation over GET or over the subscriptions websocket, for anyone.

`/server_info` stays open: it answers only version numbers and is what `tracktracker status` and the
compose healthcheck poll, which should not need a password.

Passwords: TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD / TRACKTRACKER_DAGSTER_VIEWER_PASSWORD (compose), else
generated once under TRACKTRACKER_HOME/secrets/. Run it as
`python -m tracktracker_assets.orchestration.front -w workspace.yaml -h HOST -p PORT` (`tracktracker up`
and docker-compose do). The private `dagster._...` imports of TrackTracker live in this module only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

from tracktracker_assets.settings import Settings, _env, read_or_create_secret

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tracktracker.dagster_front")

LOGIN_PATH = "/tracktracker/login"
LOGOUT_PATH = "/tracktracker/logout"
HEALTH_PATH = "/server_info"
COOKIE_NAME = "tracktracker_dagster_session"
SESSION_MAX_AGE_S = 12 * 3600
# the role the front gives a request, where the webserver reads it when it makes the request context
ROLE_STATE_KEY = "tracktracker_role"
OPERATOR, VIEWER = "operator", "viewer"
# a viewer's GraphQL query is read whole to look for mutations; queries are small, configs are the
# operator's business
VIEWER_BODY_LIMIT = 1024 * 1024
LOGIN_BODY_LIMIT = 4096
_SAFE_METHODS = frozenset({"GET", "HEAD"})


# ---- accounts and their secrets ---------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    name: str
    password: str = field(repr=False)
    read_only: bool


@dataclass(frozen=True)
class AccountSource:
    """Where an account's password comes from: an environment variable, else a file under secrets/."""

    name: str
    env_var: str
    file_name: str
    read_only: bool

    def where(self, settings: Settings) -> str:
        if _env(self.env_var):
            return f"${self.env_var}"
        return str(settings.secrets_dir / self.file_name)

    def load(self, settings: Settings) -> Account:
        password = _env(self.env_var) or read_or_create_secret(settings.secrets_dir / self.file_name)
        return Account(self.name, password, self.read_only)


ACCOUNT_SOURCES = (
    AccountSource(OPERATOR, "TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD", "dagster-operator-password", False),
    AccountSource(VIEWER, "TRACKTRACKER_DAGSTER_VIEWER_PASSWORD", "dagster-viewer-password", True),
)


def load_accounts(settings: Settings) -> dict[str, Account]:
    """Both accounts; their password files are created on first use (0600)."""
    accounts = {source.name: source.load(settings) for source in ACCOUNT_SOURCES}
    if accounts[OPERATOR].password == accounts[VIEWER].password:
        raise SystemExit(
            "The Dagster operator and viewer passwords are the same; give them different values "
            "(TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD, TRACKTRACKER_DAGSTER_VIEWER_PASSWORD)."
        )
    return accounts


def session_key(settings: Settings) -> str:
    return read_or_create_secret(settings.secrets_dir / "dagster-session-key")


# ---- pure checks ------------------------------------------------------------------------------------
def is_mutation(document: str) -> bool:
    """Whether a GraphQL document defines a mutation operation (whichever operation a request names).
    A document that does not parse counts as one: Dagster refuses it anyway, and a refusal is the safe
    answer to something this check cannot read."""
    from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

    try:
        parsed = parse(document, no_location=True)
    except GraphQLError:
        return True
    return any(
        isinstance(definition, OperationDefinitionNode) and definition.operation is OperationType.MUTATION
        for definition in parsed.definitions
    )


def query_string_has_mutation(query_string: str) -> bool:
    """Any `query` parameter of a URL query string that is (or may be) a mutation; Dagster reads the
    last one, this looks at all."""
    return any(
        is_mutation(value) for key, value in parse_qsl(query_string, keep_blank_values=True) if key == "query"
    )


def body_has_mutation(body: bytes, content_type: str) -> bool:
    """Whether a GraphQL POST body, read as Dagster's endpoint reads it, holds a mutation."""
    if not body:
        return False
    if "application/graphql" in content_type:
        try:
            return is_mutation(body.decode())
        except UnicodeDecodeError:
            return True
    if "application/json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return True
        if not isinstance(data, dict):
            return True  # Dagster answers lists with an error; nothing to let through
        query = data.get("query")
        return query is not None and (not isinstance(query, str) or is_mutation(query))
    return False  # other bodies are ignored: Dagster then reads the URL's query string


def _normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    netloc = parts.netloc
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}"


DEFAULT_ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def host_name(host: str | None) -> str:
    """The Host header without its port, lower case ("[::1]:3000" -> "[::1]")."""
    value = (host or "").strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts() -> frozenset[str]:
    """TRACKTRACKER_DAGSTER_ALLOWED_HOSTS (comma-separated host names), besides the loopback names."""
    extra = {host_name(h) for h in (_env("TRACKTRACKER_DAGSTER_ALLOWED_HOSTS") or "").split(",") if h.strip()}
    return DEFAULT_ALLOWED_HOSTS | extra


def own_origin(scheme: str, host: str | None) -> str | None:
    """The origin a request addressed: its scheme (ws counts as http) and its Host header."""
    if not host:
        return None
    return _normalise_origin(f"{scheme}://{host}")


def cross_origin_problem(headers: Mapping[str, str], origin_of_server: str | None) -> str | None:
    """Why a state-changing request (not GET/HEAD, or a websocket) must be refused as cross-origin, or
    None. Browsers send Origin with every such request, and Sec-Fetch-Site where they support it; a
    request with neither comes from a program, not from a web page, and still needs the session cookie."""
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        return f"a {site} request"
    origin = headers.get("origin")
    if origin is not None and (origin_of_server is None or _normalise_origin(origin) != origin_of_server):
        return f"a request from another origin ({origin[:100]})"
    return None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (no `//host`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 0x20 for ch in target):
        return "/"
    return target


class FailedLogins:
    """A mild, bounded, in-memory brake on password guessing: at most `limit` failures per client and
    `total_limit` overall within `window_s`; a success clears the client's record."""

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 60.0,
        total_limit: int = 50,
        max_clients: int = 1024,
        clock: Any = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.total_limit, self.max_clients = (
            limit,
            window_s,
            total_limit,
            max_clients,
        )
        self._clock = clock
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._total: deque[float] = deque(maxlen=total_limit)

    def _recent(self, times: deque[float], now: float) -> deque[float]:
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str) -> float:
        """Seconds until this client may try again; 0 when it may now."""
        now = self._clock()
        waits = [0.0]
        times = self._clients.get(client)
        if times is not None and len(self._recent(times, now)) >= self.limit:
            waits.append(self.window_s - (now - times[0]))
        if len(self._recent(self._total, now)) >= self.total_limit:
            waits.append(self.window_s - (now - self._total[0]))
        return max(waits)

    def failed(self, client: str) -> None:
        now = self._clock()
        times = self._clients.pop(client, None) or deque(maxlen=self.limit)
        times.append(now)
        self._clients[client] = times  # most recent last: the oldest are dropped first
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        self._total.append(now)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)


class Sessions:
    """Signed session cookies. A cookie names the account and a fingerprint of its password, so a
    changed password ends every session of the account."""

    def __init__(self, key: str, accounts: Mapping[str, Account], max_age_s: int = SESSION_MAX_AGE_S) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self._key = key.encode()
        self._serializer = URLSafeTimedSerializer(key, salt="tracktracker-dagster-session")
        self._accounts = dict(accounts)
        self.max_age_s = max_age_s

    def _fingerprint(self, account: Account) -> str:
        message = f"{account.name}\0{account.password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account these credentials open; every account is compared, in constant time."""
        found = None
        for account in self._accounts.values():
            same_name = hmac.compare_digest(name.encode(), account.name.encode())
            same_password = hmac.compare_digest(password.encode(), account.password.encode())
            if same_name and same_password:
                found = account
        return found

    def issue(self, account: Account) -> str:
        return self._serializer.dumps({"u": account.name, "f": self._fingerprint(account)})

    def account(self, cookie: str | None) -> Account | None:
        from itsdangerous import BadSignature

        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # also an expired one
            return None
        account = self._accounts.get(data.get("u")) if isinstance(data, dict) else None
        if account is None or not hmac.compare_digest(str(data.get("f", "")), self._fingerprint(account)):
            return None
        return account


# ---- the ASGI front ---------------------------------------------------------------------------------
def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    # Starlette's lenient parser: the browser also sends Superset's cookies (same host, another port),
    # and http.cookies drops every cookie after one it cannot read
    from starlette.requests import cookie_parser

    return cookie_parser(headers.get("cookie", "")).get(name)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _ws_message_has_mutation(message: Message) -> bool:
    raw = message.get("text") or message.get("bytes")
    if not raw:
        return False
    try:
        data = json.loads(raw)
    except ValueError:
        return False  # Dagster's endpoint fails on it before running anything
    if not isinstance(data, dict) or data.get("type") not in ("start", "subscribe"):
        return False
    payload = data.get("payload")
    query = payload.get("query") if isinstance(payload, dict) else None
    return query is not None and (not isinstance(query, str) or is_mutation(query))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TrackTracker · Dagster</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px system-ui, sans-serif; background: #f4f4f6; display: grid; place-items: center;
  min-height: 90vh; margin: 0; }}
form {{ background: #fff; padding: 2em; border-radius: 8px; box-shadow: 0 1px 4px #0002; width: 18em; }}
h1 {{ font-size: 1.2em; margin: 0 0 1em; }} label {{ display: block; margin: .8em 0 .2em; }}
input {{ width: 100%; box-sizing: border-box; padding: .5em; }}
button {{ margin-top: 1.2em; padding: .5em 1em; }}
.error {{ color: #b00020; }} .hint {{ color: #666; font-size: .85em; }}
</style></head><body>{content}</body></html>"""


def login_page(next_path: str, error: str | None = None) -> str:
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    return _PAGE.format(
        content=f"""<form method="post" action="{LOGIN_PATH}">
<h1>TrackTracker · Dagster</h1>{message}
<label for="username">User</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{escape(next_path)}">
<button type="submit">Log in</button>
<p class="hint"><b>operator</b> runs and changes things; <b>viewer</b> only looks.
Passwords: <code>tracktracker up</code> says where they are kept.</p>
</form>"""
    )


def logout_page() -> str:
    return _PAGE.format(
        content=f"""<form method="post" action="{LOGOUT_PATH}">
<h1>TrackTracker · Dagster</h1><p>Log out of the Dagster UI?</p><button type="submit">Log out</button>
</form>"""
    )


# the front's own pages: no script, no framing, forms post only here
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}


class DagsterFront:
    """ASGI middleware around Dagster's webserver app: login, roles, same-origin and mutation checks."""

    def __init__(
        self,
        app: ASGIApp,
        accounts: Mapping[str, Account],
        key: str,
        failed_logins: FailedLogins | None = None,
        allowed_hosts: frozenset[str] = DEFAULT_ALLOWED_HOSTS,
    ) -> None:
        self.app = app
        self.sessions = Sessions(key, accounts)
        self.failed_logins = failed_logins or FailedLogins()
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        await self._handle(scope, receive, _no_framing(send))

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.responses import PlainTextResponse

        websocket = scope["type"] == "websocket"
        method = "WEBSOCKET" if websocket else scope["method"]
        path = scope["path"]
        headers = _headers(scope)
        query_string = scope.get("query_string", b"").decode("latin-1")

        if host_name(headers.get("host")) not in self.allowed_hosts:
            # a page of another site whose name now resolves to this machine (DNS rebinding) must not
            # reach the login form or the API: only the names this server is opened by are answered
            await self._refuse(
                scope, receive, send, 421, "Unknown host name: set TRACKTRACKER_DAGSTER_ALLOWED_HOSTS."
            )
            return
        if websocket or method not in _SAFE_METHODS:
            problem = cross_origin_problem(
                headers, own_origin(scope.get("scheme", "http"), headers.get("host"))
            )
            if problem:
                await self._refuse(
                    scope, receive, send, 403, f"Refused {problem}: open the Dagster UI itself."
                )
                return
        if not websocket and path == HEALTH_PATH and method in _SAFE_METHODS:
            await self._forward(scope, receive, send, None)
            return
        if not websocket and path == LOGIN_PATH:
            await self._login(scope, receive, send, method, headers, query_string)
            return
        if not websocket and path == LOGOUT_PATH:
            await self._logout(scope, receive, send, method)
            return
        if not websocket and method in _SAFE_METHODS and query_string_has_mutation(query_string):
            response = PlainTextResponse(
                "GraphQL mutations are not accepted over GET (nor documents that do not parse); "
                "send them with POST from the Dagster UI.",
                status_code=405,
                headers={"Allow": "POST"},
            )
            await response(scope, receive, send)
            return

        account = self.sessions.account(_cookie(headers, COOKIE_NAME))
        if account is None:
            await self._unauthenticated(scope, receive, send, method, headers, query_string)
            return
        if account.read_only and not websocket and method not in _SAFE_METHODS:
            if path != "/graphql":
                await self._refuse(scope, receive, send, 403, "The viewer account is read-only.")
                return
            body = await _read_body(receive, VIEWER_BODY_LIMIT)
            if body is None:
                await self._refuse(scope, receive, send, 413, "The request body is too large for the viewer.")
                return
            if query_string_has_mutation(query_string) or body_has_mutation(
                body, headers.get("content-type", "")
            ):
                await self._refuse(
                    scope, receive, send, 403, "The viewer account is read-only: no mutations."
                )
                return
            receive = _replay(body, receive)
        if websocket:
            receive = _guard_websocket(receive, send)
        await self._forward(scope, receive, send, account)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, account: Account | None) -> None:
        # every request is marked: the webserver gives write access only to a request marked operator
        state = dict(scope.get("state") or {})
        state[ROLE_STATE_KEY] = OPERATOR if account is not None and not account.read_only else VIEWER
        await self.app({**scope, "state": state}, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        from starlette.responses import PlainTextResponse

        if scope["type"] == "websocket":
            # closing before accepting makes the server answer the upgrade with 403
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await PlainTextResponse(message, status_code=status)(scope, receive, send)

    async def _unauthenticated(
        self, scope: Scope, receive: Receive, send: Send, method: str, headers: Mapping[str, str], query: str
    ) -> None:
        from starlette.responses import RedirectResponse

        if method in _SAFE_METHODS and "text/html" in headers.get("accept", ""):
            target = scope["path"] + (f"?{query}" if query else "")
            await RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)(
                scope, receive, send
            )
            return
        await self._refuse(scope, receive, send, 401, f"Log in first: {LOGIN_PATH}")

    async def _login(
        self, scope: Scope, receive: Receive, send: Send, method: str, headers: Mapping[str, str], query: str
    ) -> None:
        from starlette.responses import HTMLResponse, RedirectResponse

        if method in _SAFE_METHODS:
            next_path = safe_next(parse_qs(query).get("next", ["/"])[-1])
            await HTMLResponse(login_page(next_path), headers=_PAGE_HEADERS)(scope, receive, send)
            return
        if method != "POST":
            await self._refuse(scope, receive, send, 405, "Use the login form.")
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.failed_logins.retry_after(client)
        if wait > 0:
            response = HTMLResponse(
                login_page("/", f"Too many failed logins; try again in {wait:.0f} s."),
                status_code=429,
                headers={**_PAGE_HEADERS, "Retry-After": str(int(wait) + 1)},
            )
            await response(scope, receive, send)
            return
        body = await _read_body(receive, LOGIN_BODY_LIMIT)
        form = parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
        name = form.get("username", [""])[-1]
        password = form.get("password", [""])[-1]
        next_path = safe_next(form.get("next", ["/"])[-1])
        account = self.sessions.authenticate(name, password)
        if account is None:
            self.failed_logins.failed(client)
            known = name if name in (OPERATOR, VIEWER) else "an unknown user"
            log.warning("Dagster UI: failed login for %s from %s", known, client)
            response = HTMLResponse(
                login_page(next_path, "Wrong user or password."), status_code=401, headers=_PAGE_HEADERS
            )
            await response(scope, receive, send)
            return
        self.failed_logins.succeeded(client)
        log.info("Dagster UI: %s logged in from %s", account.name, client)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            self.sessions.issue(account),
            max_age=self.sessions.max_age_s,
            path="/",
            httponly=True,
            samesite="strict",
            secure=scope.get("scheme") == "https",
        )
        await response(scope, receive, send)

    async def _logout(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        from starlette.responses import HTMLResponse, RedirectResponse

        if method in _SAFE_METHODS:
            await HTMLResponse(logout_page(), headers=_PAGE_HEADERS)(scope, receive, send)
            return
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        await response(scope, receive, send)


def _no_framing(send: Send) -> Send:
    """Every answer forbids framing: a page of another origin on this host (same site) must not
    overlay the UI's buttons."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-frame-options", b"DENY")]}
        await send(message)

    return sending


def _guard_websocket(receive: Receive, send: Send) -> Receive:
    """Subscriptions only: a websocket message that starts a mutation closes the socket."""

    async def guarded() -> Message:
        message = await receive()
        if message["type"] == "websocket.receive" and _ws_message_has_mutation(message):
            await send({"type": "websocket.close", "code": 1008, "reason": "no mutations over the websocket"})
            return {"type": "websocket.disconnect", "code": 1008}
        return message

    return guarded


# ---- Dagster's webserver app ------------------------------------------------------------------------
def dagster_app(process_context: Any, live_data_poll_rate: int = 2000) -> ASGIApp:
    """Dagster's webserver app as `dagster-webserver` builds it, with a request context that is
    read-only unless the front marked the request as the operator's."""
    from dagster._core.workspace.context import WorkspaceRequestContext
    from dagster_webserver.webserver import DagsterWebserver
    from starlette.requests import HTTPConnection

    class RoleAwareWebserver(DagsterWebserver):
        def _make_request_context(self, conn: HTTPConnection) -> WorkspaceRequestContext:
            context = self._process_context
            role = (conn.scope.get("state") or {}).get(ROLE_STATE_KEY)
            # what WorkspaceProcessContext.create_request_context makes, with read_only per request
            return WorkspaceRequestContext(
                instance=context.instance,
                current_workspace=context.get_current_workspace(),
                process_context=context,
                version=context.version,
                source=conn,
                read_only=context.read_only or role != OPERATOR,
            )

    return RoleAwareWebserver(process_context, "", live_data_poll_rate).create_asgi_app(lifespan=_lifespan)


@contextlib.asynccontextmanager
async def _lifespan(_app: Any) -> AsyncIterator[None]:
    # as dagster-webserver does: a cancelled lifespan is how uvicorn ends on a signal
    with contextlib.suppress(asyncio.CancelledError):
        yield


def serve(settings: Settings, workspace: Iterable[str], host: str, port: int) -> None:
    """Serve the protected Dagster UI in the foreground until a signal stops it."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._utils.interrupts import setup_interrupt_handlers
    from dagster._utils.log import configure_loggers
    from dagster_webserver.version import __version__

    configure_loggers(log_level="INFO")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # as dagster-webserver: SIGTERM raises KeyboardInterrupt once uvicorn has stopped (it re-raises the
    # signal), so the workspace context below still shuts its code server down
    setup_interrupt_handlers()
    accounts = load_accounts(settings)  # first: a bad secret setting fails before anything loads
    key = session_key(settings)
    # the stock CLI's defaults for a long-running server (statement timeout ms, pool recycle s, overflow)
    with DagsterInstance.get() as instance:
        instance.optimize_for_webserver(15_000, 3600, 20)
        target = WorkspaceFileTarget(paths=[str(Path(p)) for p in workspace])
        with WorkspaceProcessContext(
            instance, workspace_load_target=target, version=__version__, read_only=False
        ) as process_context:
            front = DagsterFront(dagster_app(process_context), accounts, key, allowed_hosts=allowed_hosts())
            log.info("Serving the Dagster UI behind TrackTracker's login on http://%s:%s", host, port)
            uvicorn.run(front, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    from tracktracker_assets.services.home import private_umask

    private_umask()  # compose starts this module directly, not through the CLI
    parser = argparse.ArgumentParser(
        prog="python -m tracktracker_assets.orchestration.front",
        description="The Dagster UI behind TrackTracker's login (what `tracktracker up` runs).",
        add_help=False,
    )
    parser.add_argument("--help", action="help", help="show this message and exit")
    parser.add_argument("-w", "--workspace", action="append", required=True, help="workspace.yaml to load")
    parser.add_argument("-h", "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=3000, help="port to listen on (default 3000)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # the way a signal ends it
        serve(Settings.from_env(), args.workspace, args.host, args.port)


if __name__ == "__main__":
    main()
