"""The pure parts of the Dagster UI's front (orchestration/front.py): mutation detection, the
same-origin rule, sessions, the login brake, where passwords come from, and the front's decisions on
requests driven through its ASGI interface. The front around the real Dagster webserver is tested on
the running stack in tests/test_local_stack.py."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tracktracker_assets.orchestration.front import (
    ACCOUNT_SOURCES,
    DEFAULT_ALLOWED_HOSTS,
    OPERATOR,
    ROLE_STATE_KEY,
    VIEWER,
    Account,
    DagsterFront,
    FailedLogins,
    Sessions,
    body_has_mutation,
    cross_origin_problem,
    is_mutation,
    load_accounts,
    own_origin,
    query_string_has_mutation,
    safe_next,
)
from tracktracker_assets.settings import Settings

LAUNCH = 'mutation Launch { launchRun(executionParams: {selector: {jobName: "x"}}) { __typename } }'


@pytest.mark.parametrize(
    ("document", "mutation"),
    [
        ("{ version }", False),
        ("query Q { assetNodes { id } }", False),
        ('subscription S { pipelineRunLogs(runId: "1") { __typename } }', False),
        (
            '{ runsOrError(filter: {tags: [{key: "mutation", value: "mutation { wipeAssets }"}]})'
            " { __typename } }",
            False,
        ),
        ("# mutation { wipeAssets }\n{ version }", False),
        (LAUNCH, True),
        ("mutation { wipeAssets(assetPartitionRanges: []) { __typename } }", True),
        # a harmless operation named in the request does not make the document's mutation harmless
        ("query Harmless { version } " + LAUNCH, True),
        ('fragment F on Query { version } mutation { terminateRun(runId: "1") { __typename } }', True),
        ("{ version", True),  # does not parse: refused as if it were one
        ("", True),
    ],
)
def test_mutations_are_found_by_parsing_not_by_words(document: str, mutation: bool) -> None:
    assert is_mutation(document) is mutation


def test_every_query_parameter_of_a_get_is_looked_at() -> None:
    assert not query_string_has_mutation("query=" + quote("{ version }"))
    assert not query_string_has_mutation("")
    assert query_string_has_mutation("query=" + quote(LAUNCH))
    # Dagster reads the last `query`; a harmless first one must not hide a mutation after it
    assert query_string_has_mutation("query=" + quote("{ version }") + "&query=" + quote(LAUNCH))
    assert query_string_has_mutation("operationName=Q&query=" + quote("query Q { version } " + LAUNCH))


def test_post_bodies_are_read_as_dagsters_endpoint_reads_them() -> None:
    as_json = "application/json"
    assert not body_has_mutation(json.dumps({"query": "{ version }"}).encode(), as_json)
    assert body_has_mutation(json.dumps({"query": LAUNCH, "variables": {}}).encode(), as_json)
    assert body_has_mutation(json.dumps([{"query": "{ version }"}]).encode(), as_json)  # batches
    assert body_has_mutation(json.dumps({"query": ["not", "a", "string"]}).encode(), as_json)
    assert body_has_mutation(b"{not json", "application/json; charset=utf-8")
    assert body_has_mutation(LAUNCH.encode(), "application/graphql")
    assert not body_has_mutation(b"{ version }", "application/graphql")
    # any other body is ignored by Dagster (it reads the URL's query string, checked separately)
    assert not body_has_mutation(LAUNCH.encode(), "text/plain")


def test_only_the_servers_own_origin_may_change_state() -> None:
    here = own_origin("http", "127.0.0.1:3000")
    assert here == "http://127.0.0.1:3000"
    assert cross_origin_problem({"origin": "http://127.0.0.1:3000"}, here) is None
    assert (
        cross_origin_problem({"origin": "http://127.0.0.1:3000", "sec-fetch-site": "same-origin"}, here)
        is None
    )
    # no Origin and no Sec-Fetch-Site: a program, not a page (and it still needs the session cookie)
    assert cross_origin_problem({}, here) is None
    # Superset on another port of the same host is the same *site* for browsers, but another origin
    assert cross_origin_problem({"origin": "http://127.0.0.1:8088"}, here)
    assert cross_origin_problem({"origin": "http://localhost:3000"}, here)
    assert cross_origin_problem({"origin": "https://127.0.0.1:3000"}, here)
    assert cross_origin_problem({"origin": "null"}, here)
    assert cross_origin_problem({"sec-fetch-site": "cross-site"}, here)
    assert cross_origin_problem({"sec-fetch-site": "same-site", "origin": "http://127.0.0.1:3000"}, here)
    assert cross_origin_problem({"origin": "http://127.0.0.1:3000"}, None)  # no Host: nothing matches
    # default ports and websocket schemes name the same origin
    assert own_origin("ws", "dagster.example:80") == "http://dagster.example"
    assert (
        cross_origin_problem({"origin": "https://dagster.example"}, own_origin("wss", "dagster.example:443"))
        is None
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/runs?status=QUEUED", "/runs?status=QUEUED"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_after_login_only_a_path_on_this_server(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_logins_are_braked_per_client_and_overall_within_bounds() -> None:
    clock = Clock()
    brake = FailedLogins(limit=3, window_s=60, total_limit=5, max_clients=4, clock=clock)
    for _ in range(3):
        assert brake.retry_after("a") == 0
        brake.failed("a")
    assert 59 <= brake.retry_after("a") <= 60
    assert brake.retry_after("b") == 0  # another client is not held up by a's failures
    clock.now += 30
    assert 29 <= brake.retry_after("a") <= 30
    clock.now += 31
    assert brake.retry_after("a") == 0  # the window passed
    brake.failed("a")
    brake.succeeded("a")
    assert brake.retry_after("a") == 0 and "a" not in brake._clients
    # many clients: the table stays bounded, and the overall limit still holds
    for client in ("c", "d", "e", "f", "g"):
        brake.failed(client)
    assert len(brake._clients) <= 4
    assert brake.retry_after("h") > 0
    clock.now += 61
    assert brake.retry_after("h") == 0


OPERATOR_ACCOUNT = Account(OPERATOR, "op-secret-1", read_only=False)
VIEWER_ACCOUNT = Account(VIEWER, "view-secret-2", read_only=True)
ACCOUNTS = {OPERATOR: OPERATOR_ACCOUNT, VIEWER: VIEWER_ACCOUNT}


def test_sessions_name_an_account_and_end_with_its_password() -> None:
    sessions = Sessions("k" * 32, ACCOUNTS)
    assert sessions.authenticate(OPERATOR, "op-secret-1") is OPERATOR_ACCOUNT
    assert sessions.authenticate(VIEWER, "view-secret-2") is VIEWER_ACCOUNT
    assert sessions.authenticate(OPERATOR, "view-secret-2") is None
    assert sessions.authenticate("admin", "op-secret-1") is None
    assert sessions.authenticate(OPERATOR, "") is None

    cookie = sessions.issue(VIEWER_ACCOUNT)
    assert "view-secret-2" not in cookie
    assert sessions.account(cookie) is VIEWER_ACCOUNT
    assert sessions.account(None) is None
    assert sessions.account(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert Sessions("another key" * 3, ACCOUNTS).account(cookie) is None
    changed = {**ACCOUNTS, VIEWER: Account(VIEWER, "a new one", read_only=True)}
    assert Sessions("k" * 32, changed).account(cookie) is None
    assert Sessions("k" * 32, ACCOUNTS, max_age_s=-1).account(cookie) is None  # expired


def _settings(home: Path) -> Settings:
    return Settings(
        home=home,
        database_url_override=None,
        dagster_database_url_override=None,
        mongo_url_override=None,
        mongo_db="tracktracker",
        pg_bin=None,
        counted_play_ms=30_000,
        dedupe_window_s=60,
        global_min_users=3,
        max_upload_bytes=1,
    )


def test_passwords_come_from_the_environment_or_0600_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD", raising=False)
    monkeypatch.delenv("TRACKTRACKER_DAGSTER_VIEWER_PASSWORD", raising=False)
    settings = _settings(tmp_path)
    accounts = load_accounts(settings)
    for name in (OPERATOR, VIEWER):
        path = tmp_path / "secrets" / f"dagster-{name}-password"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.read_text().strip() == accounts[name].password
        assert len(accounts[name].password) >= 32
    assert load_accounts(settings) == accounts  # the same on every start
    assert accounts[VIEWER].read_only and not accounts[OPERATOR].read_only
    assert accounts[OPERATOR].password not in repr(accounts[OPERATOR])

    operator_source = next(source for source in ACCOUNT_SOURCES if source.name == OPERATOR)
    assert operator_source.where(settings) == str(tmp_path / "secrets" / "dagster-operator-password")
    monkeypatch.setenv("TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD", "from-compose-env")
    assert load_accounts(settings)[OPERATOR].password == "from-compose-env"
    assert operator_source.where(settings) == "$TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD"  # not its value
    monkeypatch.setenv("TRACKTRACKER_DAGSTER_VIEWER_PASSWORD", "from-compose-env")
    with pytest.raises(SystemExit, match="are the same"):
        load_accounts(settings)


# ---- the front's decisions, driven through its ASGI interface ----------------------------------------
class Inner:
    """Stands for Dagster's app: records what the front lets through."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict, bytes]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        if scope["type"] == "http":
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        self.seen.append((scope, body))
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            while (await receive())["type"] != "websocket.disconnect":
                pass
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(
    front: DagsterFront,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: str = "",
    websocket_messages: list[dict] | None = None,
) -> tuple[int | None, dict[str, str], list[dict]]:
    headers = {"host": "127.0.0.1:3000", **(headers or {})}
    scope = {
        "type": "websocket" if method == "WEBSOCKET" else "http",
        "scheme": "ws" if method == "WEBSOCKET" else "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5555),
    }
    # a body in two chunks, to see that the front hands Dagster all of it
    incoming = (
        [{"type": "websocket.connect"}, *websocket_messages, {"type": "websocket.disconnect", "code": 1000}]
        if websocket_messages is not None
        else [
            {"type": "http.request", "body": body[:3], "more_body": True},
            {"type": "http.request", "body": body[3:], "more_body": False},
        ]
    )
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(front(scope, receive, send))
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    response_headers = {k.decode().lower(): v.decode() for k, v in (start or {}).get("headers", [])}
    return (start["status"] if start else None), response_headers, sent


def _login(front: DagsterFront, name: str, password: str) -> str:
    status, headers, _ = _call(
        front,
        "POST",
        "/tracktracker/login",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=f"username={name}&password={quote(password)}&next=/runs".encode(),
    )
    assert status == 303 and headers["location"] == "/runs"
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    return cookie.split(";", 1)[0]


def test_the_front_marks_roles_and_hands_a_viewers_query_through_whole() -> None:
    inner = Inner()
    front = DagsterFront(inner, ACCOUNTS, "k" * 32)
    viewer = _login(front, VIEWER, VIEWER_ACCOUNT.password)
    operator = _login(front, OPERATOR, OPERATOR_ACCOUNT.password)
    query = json.dumps({"query": "{ assetNodes { id } }"}).encode()
    status, headers, _ = _call(
        front, "POST", "/graphql", headers={"cookie": viewer, "content-type": "application/json"}, body=query
    )
    assert status == 200 and headers["x-frame-options"] == "DENY"
    scope, body = inner.seen[-1]
    assert body == query and scope["state"][ROLE_STATE_KEY] == VIEWER
    _call(front, "GET", "/", headers={"cookie": operator})
    assert inner.seen[-1][0]["state"][ROLE_STATE_KEY] == OPERATOR
    # Superset's cookies come along (same host): one the standard library cannot read hides nothing
    _call(front, "GET", "/", headers={"cookie": 'session=.eJw"[x]; other; ' + operator})
    assert inner.seen[-1][0]["state"][ROLE_STATE_KEY] == OPERATOR
    # a client cannot mark itself: the front sets the role on every request
    _call(front, "GET", "/server_info")
    assert inner.seen[-1][0]["state"][ROLE_STATE_KEY] == VIEWER

    before = len(inner.seen)
    mutation = json.dumps({"query": LAUNCH}).encode()
    refusals = [
        _call(
            front,
            "POST",
            "/graphql",
            headers={"cookie": viewer, "content-type": "application/json"},
            body=mutation,
        ),
        _call(front, "POST", "/report_asset_materialization/x", headers={"cookie": viewer}),
        _call(front, "GET", "/graphql", headers={"cookie": operator}, query="query=" + quote(LAUNCH)),
        _call(front, "POST", "/graphql", headers={"cookie": operator, "origin": "http://127.0.0.1:8088"}),
        _call(front, "GET", "/graphql", query="query=" + quote("{ version }")),
        _call(front, "POST", "/tracktracker/login", headers={"origin": "http://evil.example"}),
    ]
    assert [status for status, _, _ in refusals] == [403, 403, 405, 403, 401, 403]
    assert len(inner.seen) == before  # none of them reached Dagster


def test_websockets_need_the_session_the_origin_and_no_mutation() -> None:
    inner = Inner()
    front = DagsterFront(inner, ACCOUNTS, "k" * 32)
    operator = _login(front, OPERATOR, OPERATOR_ACCOUNT.password)
    own = {"cookie": operator, "origin": "http://127.0.0.1:3000"}

    def closed_before_accept(headers: dict[str, str]) -> bool:
        _, _, sent = _call(front, "WEBSOCKET", "/graphql", headers=headers, websocket_messages=[])
        return sent[0]["type"] == "websocket.close"

    assert closed_before_accept({"origin": "http://127.0.0.1:3000"})  # no session
    assert closed_before_accept({"cookie": operator, "origin": "http://127.0.0.1:8088"})
    subscribe = {"type": "start", "id": "1", "payload": {"query": "subscription { a { b } }"}}
    _, _, sent = _call(
        front,
        "WEBSOCKET",
        "/graphql",
        headers=own,
        websocket_messages=[{"type": "websocket.receive", "text": json.dumps(subscribe)}],
    )
    assert [m["type"] for m in sent] == ["websocket.accept"]
    mutate = {"type": "start", "id": "2", "payload": {"query": LAUNCH}}
    _, _, sent = _call(
        front,
        "WEBSOCKET",
        "/graphql",
        headers=own,
        websocket_messages=[{"type": "websocket.receive", "text": json.dumps(mutate)}],
    )
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]


def test_unauthenticated_pages_go_to_the_login_and_wrong_passwords_are_braked() -> None:
    front = DagsterFront(Inner(), ACCOUNTS, "k" * 32, FailedLogins(limit=2))
    status, headers, _ = _call(front, "GET", "/runs", headers={"accept": "text/html"}, query="a=1")
    assert status == 303 and headers["location"] == "/tracktracker/login?next=%2Fruns%3Fa%3D1"
    status, headers, _ = _call(front, "GET", "/tracktracker/login", query="next=" + quote("//evil.example"))
    assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]

    def attempt(password: str) -> tuple[int | None, dict[str, str]]:
        status, headers, _ = _call(
            front, "POST", "/tracktracker/login", body=f"username=operator&password={password}".encode()
        )
        return status, headers

    assert [attempt("wrong")[0] for _ in range(2)] == [401, 401]
    status, headers = attempt(quote(OPERATOR_ACCOUNT.password))
    assert status == 429 and int(headers["retry-after"]) > 0 and "set-cookie" not in headers


@pytest.mark.parametrize(
    ("host", "answered"),
    [
        ("127.0.0.1:3000", True),
        ("localhost:3000", True),
        ("[::1]:3000", True),
        ("LOCALHOST", True),
        ("dagster.example.org", False),  # a rebound name of another site
        ("evil.test:3000", False),
        ("", False),
    ],
)
def test_only_the_names_this_server_is_opened_by_are_answered(host: str, answered: bool) -> None:
    """DNS rebinding: a page of another site whose name resolves to 127.0.0.1 reaches nothing, not even
    the login form or /server_info."""

    async def inner(scope: dict, receive: object, send: object) -> None:  # pragma: no cover
        raise AssertionError("the front let the request through")

    front = DagsterFront(inner, ACCOUNTS, "k" * 32)
    for path in ("/tracktracker/login", "/graphql"):
        status, _, _ = _call(front, "GET", path, headers={"host": host})
        assert (status != 421) == answered, (host, path, status)
    extended = DagsterFront(
        inner, ACCOUNTS, "k" * 32, allowed_hosts=DEFAULT_ALLOWED_HOSTS | {"dagster.example.org"}
    )
    status, _, _ = _call(extended, "GET", "/tracktracker/login", headers={"host": "dagster.example.org"})
    assert status == 200
