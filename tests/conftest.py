"""Session services for the tests: a real PostgreSQL and a real MongoDB-wire registry server on free
127.0.0.1 ports, in a scratch TRACKTRACKER_HOME, started once and stopped at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` run after every other (they inspect what the whole session left behind)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


# ---- parallel runs (pytest-xdist, `./tracktracker test` starts one worker more than the cores) ----------
# Each worker is a session of its own: its own scratch home, PostgreSQL and registry. A test file goes
# to one worker whole (its module fixtures start once, its tests keep their order); the dashboards
# share one Superset, so they go together, and the secrets sweep (marked `last`) follows them there: it
# inspects the home in which Superset, its listeners and their logins lived. Every other worker sweeps
# its own home when its session ends (the `settings` fixture below).
SWEEP_TEST = "tests/test_secrets_at_rest.py"
SUPERSET_GROUP = ("tests/dashboards/", SWEEP_TEST)
# what starts no Superset goes to any worker: the Superset group is the suite's longest chain
WITHOUT_SUPERSET = (
    "tests/dashboards/test_front.py",
    "tests/dashboards/test_specs.py",
    "tests/dashboards/test_first_start.py",
)


def worker_group(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return "superset" if path.startswith(SUPERSET_GROUP) and path not in WITHOUT_SUPERSET else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return ByGroup(config, log)


# the shared folder beside the repository; TT_TEST_SHARED names it for a checkout elsewhere (a git
# worktree under /tmp, say, to run two versions' suites side by side)
SHARED = Path(os.environ.get("TT_TEST_SHARED") or REPO.parent / "shared")
REAL_DATA = SHARED / "data" / "real"

# fast and disposable: durability does not matter for a scratch cluster. A smaller WAL than a real
# home's (checkpoints cost little without fsync): each worker's secrets sweep reads every file of its
# home, and gigabytes of kept WAL made that sweep take half a minute at the end of the session
TEST_POSTGRES_CONFIG = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "'512MB'",
}


@pytest.fixture(scope="session")
def tt_home() -> Iterator[Path]:
    # not pytest's tmp_path: its parents are 0700 and PostgreSQL runs as another user (postgres.py)
    home = Path(tempfile.mkdtemp(prefix="tt-test-"))
    saved = {
        k: os.environ.get(k) for k in ("TRACKTRACKER_HOME", "DAGSTER_HOME", "TRACKTRACKER_SQLLAB_TIMEOUT")
    }
    # TRACKTRACKER_RECORD_WARMUP asks the tests themselves to re-record (tests/dashboards/test_warm.py)
    for key in list(os.environ):
        if key.startswith("TRACKTRACKER_") and key not in ("TRACKTRACKER_HOME", "TRACKTRACKER_RECORD_WARMUP"):
            saved[key] = os.environ.pop(key)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    # short enough for the runaway-query test to wait it out (tests/dashboards/test_hostile_listener.py): the
    # listeners' roles get it as their statement timeout, Superset as SQL Lab's
    os.environ["TRACKTRACKER_SQLLAB_TIMEOUT"] = "15"
    yield home
    if os.environ.get("TT_TEST_KEEP_HOME"):  # for debugging: logs, secrets and data stay behind
        print(f"\nkept the test home: {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def manifest(tt_home: Path) -> dict:
    """The dbt project's manifest (nodes, their configs and tests), parsed once for the session."""
    import json

    from tracktracker_assets.settings import Settings
    from tracktracker_assets.transform.project import ensure_manifest

    return json.loads(ensure_manifest(Settings.from_env()).read_text())


@pytest.fixture(scope="session")
def settings(tt_home: Path, request: pytest.FixtureRequest):
    from tracktracker_assets.services.local import start_storage, stop_storage
    from tracktracker_assets.settings import get_settings

    current = get_settings()
    start_storage(current, postgres_config=TEST_POSTGRES_CONFIG)
    try:
        start_command_process(current)
        yield current
        if _sweep_owed(request.session):
            from tests.secrets_sweep import sweep

            found = sweep(current)
            assert found.leaks == [], f"a secret of this worker's home outside secrets/: {found.leaks}"
    finally:
        from tracktracker_assets.services import command_process

        command_process.stop(current)
        stop_storage(current)


def start_command_process(settings, environ: dict[str, str] | None = None) -> None:
    """The command process of this worker's home, as `up` starts it: every refresh's dbt then runs in a
    fork of it, as it does for a person who ran `up` (tests/test_command_process.py compares that with
    a dbt that starts and parses by itself; homes of their own, test_faults' say, have none)."""
    from tracktracker_assets.services import command_process
    from tracktracker_assets.services.processes import eventually

    command_process.start(settings, environ or dict(os.environ))
    eventually(lambda: command_process.ready(settings) or not command_process.running(settings), timeout=180)
    assert command_process.ready(settings), command_process.log_file(settings).read_text()[-3000:]


def _sweep_owed(session: pytest.Session) -> bool:
    """A parallel worker whose session did not run the secrets sweep, in a run that includes it, sweeps
    its own home at its end: every worker has a home of its own (see worker_group above)."""
    from tests.secrets_sweep import SWEPT

    in_run = any(item.nodeid.startswith(SWEEP_TEST) for item in session.items)
    return (
        in_run and bool(os.environ.get("PYTEST_XDIST_WORKER")) and not session.config.stash.get(SWEPT, False)
    )


@pytest.fixture(scope="session")
def warehouse_url(settings) -> str:
    return settings.database_url


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[object]:
    from tracktracker_assets.warehouse.db import connect

    connection = connect(warehouse_url)
    yield connection
    connection.close()


def real_files(kind: str) -> list[Path]:
    return sorted((REAL_DATA / kind).glob("*.json"))


# ---- the real public exports, loaded once through the CLI and Dagster ----------------------------
# person prefix in data/real -> (user id, time zone). Khushi listens in India: a non-UTC zone whose
# half-hour offset moves plays across hours and dates.
REAL_PEOPLE = {
    "CandidlyRed": ("candidlyred", "America/New_York"),
    "Efrrowini": ("efrrowini", "UTC"),
    "Khushi-203006": ("khushi", "Asia/Kolkata"),
    "Th1nhNg0": ("thinh", "Asia/Ho_Chi_Minh"),
    "jayeshironside": ("jayesh", "UTC"),
    "mica-92": ("mica", "America/Argentina/Buenos_Aires"),
    "mtas0": ("mtas", "Europe/Berlin"),
    "hobbies-w-erin": ("erin", "America/Chicago"),
    "vnegi10": ("vnegi", "Europe/Amsterdam"),
}
NOT_HISTORY = {"hobbies-w-erin--Playlist1.json", "hobbies-w-erin--YourLibrary.json"}


def history_files_of(person: str) -> list[Path]:
    return [
        p
        for p in real_files("spotify-extended") + real_files("spotify-account")
        if p.name.split("--")[0] == person and p.name not in NOT_HISTORY
    ]


def cli(*args: str) -> tuple[int, str]:
    """Run the real `tracktracker` command in this process (same settings, same Dagster instance)."""
    from click.testing import CliRunner

    from tracktracker_assets.cli.main import cli as command

    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def disconnect_everyone(service: str) -> None:
    """When a fake live service stops: the accounts this worker's listeners were given there answered
    only while it ran, and a later file's unnamed pull (every connected listener) would otherwise ask the
    real service for them."""
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.settings import get_settings

    with open_registry(get_settings()) as registry:
        for user in list(registry.live_users(service)):
            registry.disconnect(user.user_id, service)


@pytest.fixture(scope="session")
def real_gold(settings):
    """Every real export of data/real loaded: one person through `tracktracker import` itself, the rest
    through the same load-and-refresh path for several users at once (one load run, one dbt build)."""
    from rich.console import Console

    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.orchestration.pipeline import load_and_refresh

    for person, (user_id, tz) in REAL_PEOPLE.items():
        code, output = cli("users", "add", user_id, "--name", person, "--timezone", tz)
        assert code == 0, output
    code, output = cli("import", "erin", *map(str, history_files_of("hobbies-w-erin")))
    assert code == 0, output
    others = [p for p in REAL_PEOPLE if p != "hobbies-w-erin"]
    for person in others:
        for path in history_files_of(person):
            drop_into_inbox(settings, REAL_PEOPLE[person][0], path)
    assert load_and_refresh(settings, Console(quiet=True), [REAL_PEOPLE[p][0] for p in others])
    return settings


@pytest.fixture
def level_gold(real_gold):
    """real_gold with every load in bronze refreshed, and every registered listener in gold: other test
    files on this worker may have loaded plays without a refresh (pulls do), or registered listeners
    without a load (`users add`: gold's dim_user takes them in at the next refresh), which a test
    comparing gold before and after a refresh of its own would otherwise count as its change."""
    from rich.console import Console

    from tracktracker_assets.orchestration.pipeline import refresh, refresh_if_behind
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.warehouse.db import query

    assert refresh_if_behind(real_gold, Console(quiet=True))
    with open_registry(real_gold) as registry:
        registered = {user.user_id for user in registry.list_users()}
    in_gold = {row[0] for row in query(real_gold.database_url, "select user_id from gold.dim_user")[1]}
    if registered != in_gold:
        assert refresh(real_gold, Console(quiet=True))
    return real_gold
