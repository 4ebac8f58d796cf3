"""Superset over the session's real warehouse: one start for the package, stopped at its end.

Gold is built by the real pipeline: the session's `real_gold` (nine people's public exports) plus three
synthetic listeners whose history runs up to now (tests/dashboards/listeners.py; alice on two services),
added with `tracktracker users add` and loaded through the inbox, Dagster and dbt like any import.
Provisioning creates a Superset account for every registry user. Superset gets a 2 MB upload limit so
the size checks are testable, and a fake Spotify (tests.fakes.spotify_server) for the connect page. A few
of alice's top albums and artists get catalog pictures on a local image host (tests/dashboards/images.py),
which Superset's content security policy allows.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import cli
from tests.fakes.spotify_server import FakeSpotify
from tracktracker_assets.dashboards import provision, service
from tracktracker_assets.dashboards.client import SupersetClient
from tracktracker_assets.dashboards.config import bi_settings
from tracktracker_assets.dashboards.listeners import listener_password
from tracktracker_assets.settings import Settings

from .browser import SCREENSHOTS
from .images import ImageHost, image_host
from .listeners import LISTENERS, write_listenbrainz_listens, write_recent_exports

UPLOAD_LIMIT_MB = 2
MARKUP_IN_A_NAME = " <b>Live</b> &amp; more"


@dataclass
class BIStack:
    settings: Settings
    url: str
    provisioned: provision.Provisioned
    timings: dict[str, float]
    images: ImageHost

    def admin(self) -> SupersetClient:
        return provision.admin_client(self.settings)

    def password(self, user_id: str) -> str:
        password = listener_password(self.settings, user_id)
        assert password, f"no stored Superset password for {user_id}"
        return password

    def listener(self, user_id: str) -> SupersetClient:
        return SupersetClient(self.url, user_id, self.password(user_id))

    @property
    def sqllab_timeout(self) -> int:
        return bi_settings().sqllab_timeout

    def superset_environments(self) -> list[bytes]:
        """The environment of every running process of this Superset."""
        marker = f"SUPERSET_HOME={self.settings.home / 'superset'}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            try:
                environ = (proc / "environ").read_bytes() if proc.name.isdigit() else b""
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                found.append(environ)
        return found

    def query(self, statement: str, params: tuple | dict = ()) -> list[tuple]:
        conn = psycopg2.connect(self.settings.database_url)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        finally:
            conn.close()


def _superset_processes(settings: Settings) -> list[str]:
    """Live processes started by bi.service for this TRACKTRACKER_HOME (found by SUPERSET_HOME)."""
    marker = f"SUPERSET_HOME={settings.home / 'superset'}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="package")
def bi_gold(real_gold: Settings) -> Settings:
    """The session's real gold plus the recent synthetic listeners, through the real import path."""
    from rich.console import Console

    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.orchestration.pipeline import load_and_refresh

    for listener in LISTENERS:
        code, output = cli("users", "add", listener.user_id, "--name", listener.display_name,
                           "--timezone", listener.timezone)  # fmt: skip
        assert code == 0, output
    with tempfile.TemporaryDirectory(prefix="tt-bi-exports-") as folder:
        for user_id, files in write_recent_exports(Path(folder)).items():
            for path in files:
                drop_into_inbox(real_gold, user_id, path)
        drop_into_inbox(real_gold, "alice", write_listenbrainz_listens(Path(folder)))
        assert load_and_refresh(real_gold, Console(quiet=True), [listener.user_id for listener in LISTENERS])
    return real_gold


@pytest.fixture(scope="package")
def fake_spotify() -> Iterator[FakeSpotify]:
    """Spotify's accounts service and Web API for the connect page (any redirect URI is accepted)."""
    with FakeSpotify(redirect_uris=None) as server:
        yield server


@pytest.fixture(scope="package")
def catalog_images(bi_gold: Settings) -> Iterator[ImageHost]:
    """Pictures for alice's first and third album and artist (by plays), as Spotify enrichment would
    store them but on the local image host; her second album's "image" is no http(s) URL (the charts
    must draw the placeholder), her third's URL carries characters HTML must escape. Her second album's
    name ends in markup and an entity, which the album tables must show as typed."""
    built: list[tuple] = []  # (dim, key, name column, entity, image_url, name) as dbt built them
    with image_host() as host:
        conn = psycopg2.connect(bi_gold.database_url)
        try:
            with conn, conn.cursor() as cur:
                for dim, key, name, where in (
                    ("dim_album", "album_key", "album_name", "f.album_key <> md5('unknown')"),
                    ("dim_artist", "artist_key", "artist_name", "true"),
                ):
                    cur.execute(
                        f"select f.{key} from gold.fct_plays f where f.user_id = 'alice' "
                        f"and f.content_type = 'track' and {where} group by 1 "
                        "order by count(*) filter (where f.is_counted_play) desc, 1 limit 3"
                    )
                    first, second, third = (row[0] for row in cur.fetchall())
                    images = {
                        first: host.url(f"{dim}-1"),
                        second: "javascript:alert(1)" if dim == "dim_album" else None,
                        third: host.url(f"{dim}-3") + '?size="large"&<b>x</b>',
                    }
                    for entity, url in images.items():
                        cur.execute(f"select image_url, {name} from gold.{dim} where {key} = %s", (entity,))
                        built.append((dim, key, name, entity, *cur.fetchone()))
                        cur.execute(f"update gold.{dim} set image_url = %s where {key} = %s", (url, entity))
                    if dim == "dim_album":  # markup in a name must read literally in the album tables
                        cur.execute(
                            "update gold.dim_album set album_name = album_name || %s where album_key = %s",
                            (MARKUP_IN_A_NAME, second),
                        )
        finally:
            conn.close()
        yield host
    # gold as dbt built it again: a later test on this worker compares gold with a rebuild
    conn = psycopg2.connect(bi_gold.database_url)
    try:
        with conn, conn.cursor() as cur:
            for dim, key, column, entity, image_url, name in built:
                cur.execute(
                    f"update gold.{dim} set image_url = %s, {column} = %s where {key} = %s",
                    (image_url, name, entity),
                )
    finally:
        conn.close()


@pytest.fixture(scope="package")
def bi_stack(bi_gold: Settings, fake_spotify: FakeSpotify, catalog_images: ImageHost) -> Iterator[BIStack]:
    settings = bi_gold
    timings: dict[str, float] = {}
    # for Superset's process only: the session's settings stay as they are for the other tests
    superset_env = {
        "TRACKTRACKER_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
        "TRACKTRACKER_SPOTIFY_CLIENT_ID": fake_spotify.client_id,
        "TRACKTRACKER_SPOTIFY_API_URL": fake_spotify.api_base,
        "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL": fake_spotify.base_url,
        "TRACKTRACKER_SUPERSET_IMAGE_HOSTS": catalog_images.origin,
    }
    for stale in SCREENSHOTS.glob("*.png"):  # what a person looks at must come from this run
        stale.unlink()
    began = time.monotonic()
    base_url = service.start(settings, extra_env=superset_env)
    timings["first start (migrate, admin, roles, gunicorn)"] = time.monotonic() - began
    try:
        began = time.monotonic()
        provisioned = provision.provision(settings)
        timings["provision"] = time.monotonic() - began
        print("\nSuperset: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        yield BIStack(settings, base_url, provisioned, timings, catalog_images)
    finally:
        service.stop(settings)
    left = _superset_processes(settings)
    assert not left, f"Superset processes left behind: {left}"


SUPERSET_LOG_OFFSET = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries what Superset logged while it ran: a 500's traceback is there."""
    outcome = yield
    stack = getattr(item, "funcargs", {}).get("bi_stack")
    if not isinstance(stack, BIStack):
        return
    log = service.log_file(stack.settings)
    if call.when == "setup":
        item.stash[SUPERSET_LOG_OFFSET] = log.stat().st_size if log.exists() else 0
    elif call.when == "call" and outcome.get_result().failed and log.exists():
        with open(log, "rb") as handle:
            handle.seek(item.stash.get(SUPERSET_LOG_OFFSET, 0))
            written = handle.read().decode(errors="replace")
        written = written or "(nothing)"
        outcome.get_result().sections.append(
            ("Superset's log during the test (last 20,000 characters)", written[-20_000:])
        )
