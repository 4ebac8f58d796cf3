"""The README's main command as a new user runs it (a subprocess in a scratch TRACKTRACKER_HOME), and
the running stack it leaves: Dagster's webserver (GraphQL, behind TrackTracker's login) and daemon,
hands-off loading, `down` and a second `up`. (The README's test command is what CI runs: .ci/run
calls it.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.conftest import REAL_DATA, REPO
from tests.fakes.spotify_server import FakeSpotify
from tracktracker_assets.dashboards.assets import ASSETS_DIR


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def processes_of(home: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(home) in cmdline or f"TRACKTRACKER_HOME={home}\0".encode() in environ:
            found.append(f"{proc.name} {cmdline[:100]}")
    return found


def grpc_servers(home: Path) -> dict[int, int]:
    """{pid: parent pid} of the Dagster gRPC servers running for a home (the code location, loaded)."""
    found = {}
    for line in processes_of(home):
        pid, cmdline = line.split(" ", 1)
        if "dagster api grpc" in cmdline:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[int(pid)] = int(fields[1])
    return found


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    output: str
    sessions: dict[tuple[str, str], requests.Session] = field(default_factory=dict)
    # the gRPC servers just after `up`, and when they were seen
    first_servers: dict[int, int] = field(default_factory=dict)
    first_seen: float = 0.0

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["./tracktracker", *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def settings(self):
        from tracktracker_assets.settings import Settings

        saved = os.environ.get("TRACKTRACKER_HOME")
        os.environ["TRACKTRACKER_HOME"] = str(self.home)
        try:
            return Settings.from_env()
        finally:
            os.environ["TRACKTRACKER_HOME"] = saved or ""

    def query(self, sql: str) -> list[tuple]:
        conn = psycopg2.connect(self.settings().database_url)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    @property
    def dagster(self) -> str:
        match = re.search(r"dagster: (http://127\.0\.0\.1:\d+)", self.output)
        assert match, self.output[-2000:]
        return match.group(1)

    def password(self, account: str) -> str:
        return (self.home / "secrets" / f"dagster-{account}-password").read_text().strip()

    def login(self, account: str = "operator") -> requests.Session:
        """A session of the Dagster UI logged in as `account` through the login form (kept per URL)."""
        key = (self.dagster, account)
        if key not in self.sessions:
            session = requests.Session()
            response = session.post(
                f"{self.dagster}/tracktracker/login",
                data={"username": account, "password": self.password(account)},
                allow_redirects=False,
                timeout=30,
            )
            assert response.status_code == 303, response.text
            self.sessions[key] = session
        return self.sessions[key]

    def graphql(self, query: str, variables: dict | None = None, *, account: str = "operator") -> dict:
        response = self.login(account).post(
            f"{self.dagster}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def runs_tagged(self, value: str) -> list[dict]:
        return self.graphql(
            f'{{ runsOrError(filter: {{tags: [{{key: "tracktracker/test", value: "{value}"}}]}}) '
            "{ ... on Runs { results { runId } } } }"
        )["runsOrError"]["results"]


@pytest.fixture(scope="module")
def fake_spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify(visible_plays=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture(scope="module")
def stack(fake_spotify: FakeSpotify) -> Iterator[Stack]:
    home = Path(tempfile.mkdtemp(prefix="tt-stack-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKTRACKER_", "DAGSTER_"))}
    env["TRACKTRACKER_HOME"] = str(home)
    # a Spotify app configured as a user would, against the fake (the daemon's runs call it over HTTP)
    env.update(
        {
            "TRACKTRACKER_SPOTIFY_CLIENT_ID": fake_spotify.client_id,
            "TRACKTRACKER_SPOTIFY_CLIENT_SECRET": fake_spotify.client_secret,
            "TRACKTRACKER_SPOTIFY_API_URL": fake_spotify.api_base,
            "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL": fake_spotify.base_url.rstrip("/"),
        }
    )
    # the daemon's sensors look every 5 s instead of 30: the hands-off tests wait on two of them in a row
    env["TRACKTRACKER_SENSOR_INTERVAL_S"] = "5"
    up = readme_commands()[0]
    result = subprocess.run(up.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    running = Stack(home, env, result.stdout + result.stderr)
    running.first_servers, running.first_seen = grpc_servers(home), time.monotonic()
    try:
        assert result.returncode == 0, running.output[-4000:]
        yield running
    finally:
        running.run("down", timeout=180)
        leftovers = processes_of(home)
        shutil.rmtree(home, ignore_errors=True)
        assert leftovers == [], leftovers


def test_readme_lists_exactly_the_two_commands_ci_runs() -> None:
    up, test = readme_commands()
    assert up == "./tracktracker up" and test == "./tracktracker test"
    assert test in (REPO / ".ci" / "run").read_text()


def test_main_command_sets_up_loads_the_demo_and_summarises(stack: Stack) -> None:
    for user in ("demo-ana", "demo-kenji", "demo-sam"):
        row = re.search(rf"│ {user}\s+│.*?│.*?│\s+(\d+) │\s+([\d.]+) │", stack.output)
        assert row and int(row.group(1)) > 10_000 and float(row.group(2)) > 500, stack.output[-3000:]
    assert "Silver and gold refreshed" in stack.output and "./tracktracker sql" in stack.output
    dashboards = len(list((ASSETS_DIR / "dashboards").glob("*.yaml")))
    assert re.search(rf"superset: http://127\.0\.0\.1:\d+ \({dashboards} dashboards", stack.output)
    assert "password in" in stack.output and str(stack.home / "secrets") in stack.output
    status = stack.run("status")
    assert status.returncode == 0
    for service in ("postgres", "registry", "dagster code server", "dagster", "dagster daemon", "superset"):
        assert re.search(rf"● {service}: ", status.stderr), status.stderr


def test_the_asset_graph_is_one_lineage_from_bronze_to_dashboards(stack: Stack) -> None:
    nodes = stack.graphql("{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    parents = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }

    def ancestors(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    above = ancestors("superset/listening_history")
    assert {
        "gold/fct_plays",
        "silver/int_plays__deduplicated",
        "silver/stg_spotify__extended_history",
        "bronze/spotify_extended_history",
        "bronze/spotify_account_history",
        "bronze/spotify_recently_played",
    } <= above
    assert {"superset/current_listening", "superset/explore", "superset/global_trends"} <= set(parents)


def test_partitions_follow_the_registry_and_a_partition_run_launches_from_the_ui(stack: Stack) -> None:
    data = stack.graphql(
        '{ assetNodeOrError(assetKey: {path: ["bronze", "spotify_extended_history"]}) '
        "{ ... on AssetNode { partitionKeys } } }"
    )
    assert {"demo-ana", "demo-kenji", "demo-sam"} <= set(data["assetNodeOrError"]["partitionKeys"])
    launched = stack.graphql(
        """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
             __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "tracktracker",
                    "repositoryName": "__repository__",
                    "jobName": "import_exports",
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "demo-ana"}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = None
    for _ in range(180):
        status = stack.graphql(
            "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id}
        )["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS"


def test_the_daemon_loads_an_export_dropped_in_an_inbox_into_gold(stack: Stack) -> None:
    added = stack.run("users", "add", "handsoff", "--timezone", "Asia/Ho_Chi_Minh")
    assert added.returncode == 0, added.stderr
    inbox = stack.home / "inbox" / "handsoff"
    inbox.mkdir(parents=True, exist_ok=True)
    source = REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Audio_2023_2.json"
    shutil.copyfile(source, inbox / ".copying")
    (inbox / ".copying").rename(inbox / source.name)  # as any well-behaved uploader does
    deadline = time.monotonic() + 300
    plays = 0
    while time.monotonic() < deadline:
        plays = stack.query("select count(*) from gold.fct_plays where user_id = 'handsoff'")[0][0]
        if plays:
            break
        time.sleep(5)
    assert plays == 552  # every record of the file is a distinct event
    assert not any(p.is_file() and not p.name.startswith(".") for p in inbox.iterdir())


def test_a_newly_connected_listener_reaches_gold_without_a_command(
    stack: Stack, fake_spotify: FakeSpotify
) -> None:
    from datetime import UTC, datetime

    from tests.spotify.conftest import consent_token
    from tracktracker_assets.services.local import open_registry

    added = stack.run("users", "add", "newly", "--timezone", "America/Sao_Paulo")
    assert added.returncode == 0, added.stderr
    account = fake_spotify.add_user("sp-newly", display_name="newly")
    fake_spotify.generate_plays(account, 9, end=datetime.now(UTC))
    with open_registry(stack.settings()) as registry:  # what `users connect` stores after consent
        registry.save_token("newly", consent_token(fake_spotify, account), spotify_user_id=account.id)
    deadline = time.monotonic() + 300
    plays = 0
    while time.monotonic() < deadline and plays < 9:
        plays = stack.query("select count(*) from gold.fct_plays where user_id = 'newly'")[0][0]
        time.sleep(5)
    assert plays == 9
    runs = stack.graphql(
        '{ runsOrError(filter: {tags: [{key: "tracktracker/trigger", value: "new-connection"}]}) '
        "{ ... on Runs { results { status tags { key value } } } } }"
    )["runsOrError"]["results"]
    assert [r["status"] for r in runs] == ["SUCCESS"]  # the sensor's first pull, not the schedule


def test_one_code_server_serves_the_webserver_and_the_daemon_and_stays(stack: Stack) -> None:
    """As in compose: one code server (the code location loaded once), which the webserver and the
    daemon both use and which nothing replaces while the stack runs (a daemon that loads the module
    itself replaces its code server every minute, ~3 CPU seconds each time)."""
    from tracktracker_assets.services.dagster import DagsterServices

    server = DagsterServices(stack.settings()).code_server_pid()
    assert server is not None and stack.first_servers, stack.first_servers
    assert set(stack.first_servers.values()) == {server}  # loaded by our code server, by nobody else
    time.sleep(max(0.0, stack.first_seen + 75 - time.monotonic()))  # past the daemon's 60 s reload
    assert grpc_servers(stack.home) == stack.first_servers


# ---- the Dagster UI's front (orchestration/front.py) ------------------------------------------------
def launch_mutation(marker: str) -> tuple[str, dict]:
    """launchRun of a one-partition import, tagged so a test can tell whether it ran."""
    return (
        """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "tracktracker",
                    "repositoryName": "__repository__",
                    "jobName": "import_exports",
                },
                "executionMetadata": {
                    "tags": [
                        {"key": "dagster/partition", "value": "demo-ana"},
                        {"key": "tracktracker/test", "value": marker},
                    ]
                },
            }
        },
    )


def test_the_dagster_ui_wants_a_login_and_keeps_its_passwords_out_of_logs(stack: Stack) -> None:
    base = stack.dagster
    ui = requests.get(f"{base}/runs", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30)
    assert ui.status_code == 303 and ui.headers["location"] == "/tracktracker/login?next=%2Fruns"
    page = requests.get(base + ui.headers["location"], timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text
    assert requests.get(f"{base}/graphql", params={"query": "{ version }"}, timeout=30).status_code == 401
    assert requests.post(f"{base}/graphql", json={"query": "{ version }"}, timeout=30).status_code == 401
    # the health check `status` and compose poll answers versions only, without a login
    assert requests.get(f"{base}/server_info", timeout=30).json()["dagster_version"]
    operator, viewer = stack.password("operator"), stack.password("viewer")
    for name, password in (("operator", "not-the-password"), ("viewer", operator), ("admin", operator)):
        refused = requests.post(
            f"{base}/tracktracker/login",
            data={"username": name, "password": password},
            allow_redirects=False,
            timeout=30,
        )
        assert refused.status_code == 401 and "set-cookie" not in refused.headers, name
    # `up` says where the passwords are, and neither is in its output or any log
    secrets = stack.home / "secrets"
    assert f"password in {secrets / 'dagster-operator-password'}" in stack.output
    assert f"password in {secrets / 'dagster-viewer-password'}" in stack.output
    logs = "".join(p.read_text(errors="replace") for p in (stack.home / "logs").rglob("*") if p.is_file())
    for password in (operator, viewer):
        assert password not in stack.output and password not in logs


def test_a_mutation_over_get_is_refused_even_with_a_login(stack: Stack) -> None:
    query, variables = launch_mutation("get-mutation")
    response = stack.login("operator").get(
        f"{stack.dagster}/graphql", params={"query": query, "variables": json.dumps(variables)}, timeout=30
    )
    assert response.status_code == 405, response.text
    assert stack.runs_tagged("get-mutation") == []


def test_cross_origin_requests_are_refused_even_with_a_session(stack: Stack) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    session = stack.login("operator")
    query, variables = launch_mutation("cross-origin")
    # Superset's address on the same host is the same *site* for a browser: the cookie goes along
    superset = re.search(r"superset: (http://127\.0\.0\.1:\d+)", stack.output).group(1)
    for headers in ({"Origin": superset}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = session.post(
            f"{stack.dagster}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 403, (headers, response.text)
    assert stack.runs_tagged("cross-origin") == []
    # the UI's subscriptions websocket: the session and the UI's own origin, nothing else
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    address = stack.dagster.replace("http://", "ws://") + "/graphql"

    def handshake(origin: str) -> object:
        try:
            with connect(
                address,
                subprotocols=["graphql-ws"],
                additional_headers={"Origin": origin, "Cookie": cookie},
                open_timeout=10,
            ) as ws:
                ws.send(json.dumps({"type": "connection_init"}))
                return json.loads(ws.recv(timeout=10))["type"]
        except InvalidStatus as refused:
            return refused.response.status_code

    assert handshake(stack.dagster) == "connection_ack"
    assert handshake(superset) == 403


def test_the_viewer_reads_but_changes_nothing(stack: Stack) -> None:
    data = stack.graphql(
        "{ assetNodes { assetKey { path } } permissions { permission value } }", account="viewer"
    )
    keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert {"bronze/spotify_extended_history", "gold/fct_plays"} <= keys
    # Dagster's own read-only mode: the UI hides launch, wipe and schedule buttons
    assert data["permissions"] and not any(p["value"] for p in data["permissions"])
    history = (
        '{ assetOrError(assetKey: {path: ["gold", "fct_plays"]}) '
        "{ ... on Asset { assetMaterializations(limit: 1) { runId } } } }"
    )
    before = stack.graphql(history, account="viewer")["assetOrError"]["assetMaterializations"]
    assert before
    viewer = stack.login("viewer")
    query, variables = launch_mutation("viewer")
    wipe = (
        'mutation { wipeAssets(assetPartitionRanges: [{assetKey: {path: ["gold", "fct_plays"]}}]) '
        "{ __typename } }"
    )
    for body in ({"query": query, "variables": variables}, {"query": wipe}):
        response = viewer.post(f"{stack.dagster}/graphql", json=body, timeout=30)
        assert response.status_code == 403, response.text
    assert stack.runs_tagged("viewer") == []
    assert stack.graphql(history)["assetOrError"]["assetMaterializations"] == before


def test_the_home_and_everything_in_it_is_private(stack: Stack) -> None:
    """After `up`, the demo's import and the daemon's runs: no file or folder under the home is readable
    or writable by anyone but its owner; PostgreSQL's user (when run as root) may only pass through."""
    import stat

    loose = []
    for root, folders, files in os.walk(stack.home):
        for name in [*folders, *files]:
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or path in (stack.home / "logs",):
                continue
            if stat.S_IMODE(info.st_mode) & 0o077:
                loose.append(f"{path} {oct(stat.S_IMODE(info.st_mode))}")
    assert loose == [], loose[:20]
    for folder in (stack.home, stack.home / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) in (0o700, 0o710), folder


def test_down_stops_everything_and_a_second_up_reuses_the_data(stack: Stack) -> None:
    before = stack.query("select count(*) from gold.fct_plays")[0][0]
    down = stack.run("down", timeout=180)
    assert down.returncode == 0 and processes_of(stack.home) == []
    again = stack.run("up")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Loading the demo" not in again.stderr
    assert stack.query("select count(*) from gold.fct_plays")[0][0] == before
    stack.output = again.stdout + again.stderr  # the new ports
    assert stack.graphql("{ version }")["version"]
