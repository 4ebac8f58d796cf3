"""The listeners' page inside Superset, in the browser: upload an export (checked, then into the inbox
where the Dagster sensor finds it), see what became of it, connect Spotify through its consent page,
download their own takeout."""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import APIResponse, BrowserContext, Page
from rich.console import Console

from tests.conftest import cli
from tests.fakes.spotify_server import FakeSpotify
from tracktracker_assets.cli import superset as superset_cli
from tracktracker_assets.exports.inbox import pending_files
from tracktracker_assets.orchestration.pipeline import load_and_refresh
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.synthetic import make_user, write_export
from tracktracker_assets.takeout.requests import fulfil_requests, users_with_requests

from .browser import chromium, login, screenshot
from .conftest import UPLOAD_LIMIT_MB, BIStack

pytestmark = pytest.mark.slow
LISTENER = "dave"


@pytest.fixture(scope="module")
def dave(bi_stack: BIStack) -> Iterator[str]:
    """A new listener, registered like `tracktracker users add` does, with no data yet."""
    code, output = cli("users", "add", LISTENER, "--name", "Dave Grohl-Fan", "--timezone", "Australia/Sydney")
    assert code == 0, output
    superset_cli.on_user_added(bi_stack.settings, Console(quiet=True), LISTENER)
    yield LISTENER


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@pytest.fixture
def page(bi_stack: BIStack, browser: BrowserContext, dave: str) -> Iterator[Page]:
    page = login(browser, bi_stack.url, dave, bi_stack.password(dave))
    yield page
    page.close()


def upload(page: Page, stack: BIStack, *paths: Path) -> str:
    page.goto(f"{stack.url}/tracktracker/upload")
    # once seen on a busy machine: a login that had just succeeded was not recognised here
    cookies = [(c["name"], len(c["value"])) for c in page.context.cookies()]
    assert "/login/" not in page.url, f"signed out on the way to the upload page; cookies held: {cookies}"
    page.set_input_files("input[type=file]", [str(p) for p in paths])
    page.click("form[action='/tracktracker/upload'] button[type=submit]")
    page.wait_for_load_state("load")
    return page.inner_text("main")


def fetch(page: Page, url: str) -> APIResponse:
    """A GET with the page's session. A browser sends a request again when a kept-alive connection turns
    out to have been closed by the server at that moment (its idle timeout); Playwright's own request
    API does so only when asked (a lone ECONNRESET in one loaded run of the suite)."""
    return page.request.get(url, max_retries=1)


def test_the_page_needs_a_login(bi_stack: BIStack) -> None:
    response = requests.get(f"{bi_stack.url}/tracktracker/upload", allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_the_event_log_cannot_sign_out_a_listener_who_just_signed_in(bi_stack: BIStack, dave: str) -> None:
    """Superset's login page posts its event log in the background, with the signed-out cookie. When
    that answer, or the page a redirect in it leads to, arrives after the login's (a busy server), the
    browser keeps the cookie set last: it must not be a signed-out session (seen as a flake of the
    tests below, reproduced while warming)."""
    with requests.Session() as browser:
        form = browser.get(f"{bi_stack.url}/login/", timeout=30)
        signed_out = browser.cookies["session"]
        found = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', form.text, re.S)
        assert found, "no CSRF token in the login page"
        signed_in = browser.post(
            f"{bi_stack.url}/login/",
            data={"csrf_token": found[1], "username": dave, "password": bi_stack.password(dave)},
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 302 and "/login" not in signed_in.headers["Location"]
        beacon = requests.post(
            f"{bi_stack.url}/superset/log/?explode=events",
            cookies={"session": signed_out},
            files={"events": (None, json.dumps([{"event_name": "spa_navigation"}]))},
            allow_redirects=False,
            timeout=30,
        )
        # nothing for the browser to follow: the login page it would lead to sets a signed-out session
        assert beacon.status_code == 204 and "Location" not in beacon.headers
        late = beacon.cookies.get("session")
        if late is not None:  # what the browser does with an answer that arrives last
            held = next(c for c in browser.cookies if c.name == "session")
            browser.cookies.set("session", late, domain=held.domain, path=held.path)
        page = browser.get(f"{bi_stack.url}/tracktracker/upload", allow_redirects=False, timeout=30)
        where = page.headers.get("Location")
        assert page.status_code == 200, f"signed out by the event log's answer: {where}"
        assert late is None


def test_static_files_stay_cached_across_sign_ins(bi_stack: BIStack, dave: str) -> None:
    """Superset's scripts (15 MB) are cached by the browser for a year; an answer that varied by the session
    cookie was fetched and compiled anew after every sign-in. Pages and the API still vary by it."""
    with requests.Session() as browser:
        form = browser.get(f"{bi_stack.url}/login/", timeout=30)
        scripts = re.findall(r'src="(/static/assets/[^"]+\.js)"', form.text)
        assert scripts, "no script of Superset's on the login page"
        found = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', form.text, re.S)
        assert found, "no CSRF token in the login page"
        browser.post(
            f"{bi_stack.url}/login/",
            data={"csrf_token": found[1], "username": dave, "password": bi_stack.password(dave)},
            timeout=30,
        )
        for script in scripts:
            answer = browser.get(f"{bi_stack.url}{script}", timeout=30)
            assert answer.status_code == 200 and answer.content, script
            assert "public" in answer.headers["Cache-Control"], answer.headers
            assert "cookie" not in answer.headers.get("Vary", "").lower(), (script, answer.headers["Vary"])
            assert "Set-Cookie" not in answer.headers, script
        page = browser.get(f"{bi_stack.url}/tracktracker/upload", timeout=30)
        assert page.status_code == 200 and "cookie" in page.headers["Vary"].lower()


def test_the_favicon_is_answered(bi_stack: BIStack) -> None:
    """Browsers ask every page's origin for /favicon.ico; it leads to the icon Superset's pages name."""
    asked = requests.get(f"{bi_stack.url}/favicon.ico", allow_redirects=False, timeout=30)
    assert asked.status_code == 301 and asked.headers["Location"].endswith("/favicon.png"), asked.headers
    icon = requests.get(f"{bi_stack.url}/favicon.ico", timeout=30)
    assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/png"
    assert icon.content[:4] == b"\x89PNG"


def test_an_export_lands_in_the_inbox_and_its_outcome_shows(
    bi_stack: BIStack, page: Page, dave: str, tmp_path: Path
) -> None:
    settings = bi_stack.settings
    user = make_user(dave, seed=7, tz="Australia/Sydney", plays_per_day=20.0)
    export = next(
        p
        for p in write_export(user, tmp_path / "x", "current", date(2025, 3, 1), date(2025, 3, 20))
        if "Audio" in p.name
    )
    not_history = tmp_path / "Userdata.json"
    not_history.write_text(json.dumps({"username": "dave", "country": "AU"}))

    text = upload(page, bi_stack, export, not_history)
    assert f"{export.name} received (JSON file" in text and "within a few minutes" in text
    assert sorted(p.name for p in pending_files(settings, dave)) == sorted([export.name, not_history.name])
    screenshot(page, "upload-accepted.png", content="main")

    # the Dagster sensor sees the files and asks for a run for dave; the run is the import job
    from dagster import build_sensor_context

    from tracktracker_assets.exports.sensors import inbox_sensor
    from tracktracker_assets.orchestration.instance import get_instance

    request = inbox_sensor(build_sensor_context(instance=get_instance(settings)))
    tags = request.tags
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        dave,
        dave,
    )
    load_and_refresh(settings, Console(quiet=True), [dave])
    assert pending_files(settings, dave) == []

    page.goto(f"{bi_stack.url}/tracktracker/upload")
    history = page.inner_text("main")
    screenshot(page, "upload-history.png", content="main")
    ((plays,),) = bi_stack.query(
        "select count(*) from bronze.spotify_extended_history where user_id = %s", (dave,)
    )
    assert f"{plays:,} new plays" in history
    assert "Userdata.json" in history and "rejected" in history
    # and the plays are in dave's dashboards
    ((gold,),) = bi_stack.query("select count(*) from gold.fct_plays where user_id = %s", (dave,))
    assert gold == plays > 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"hello, this is not an export", "is no listening history TrackTracker reads"),
        (b"", "is empty"),
        (b"[" + b" " * (UPLOAD_LIMIT_MB << 20) + b"]", f"larger than the {UPLOAD_LIMIT_MB} MB limit"),
    ],
)
def test_bad_files_are_refused_before_they_land(
    bi_stack: BIStack, page: Page, dave: str, tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "my_spotify_data.json"
    path.write_bytes(content)
    text = upload(page, bi_stack, path)
    assert problem in text, text[:600]
    assert pending_files(bi_stack.settings, dave) == []
    assert not any((bi_stack.settings.home / "uploads" / dave).glob("*/*")), "staged upload left behind"


def test_an_upload_over_the_request_limit_gets_a_clear_answer(
    bi_stack: BIStack, page: Page, tmp_path: Path
) -> None:
    path = tmp_path / "huge.zip"
    path.write_bytes(b"PK\x03\x04" + b"\0" * ((UPLOAD_LIMIT_MB + 17) << 20))
    text = upload(page, bi_stack, path)
    assert f"larger than the {UPLOAD_LIMIT_MB} MB limit, so none of it was kept" in text
    screenshot(page, "upload-too-large.png", content="main")


def test_connect_spotify_through_its_consent_page(
    bi_stack: BIStack, page: Page, dave: str, fake_spotify: FakeSpotify
) -> None:
    fake_spotify.add_user("dave-on-spotify", display_name="Dave")
    fake_spotify.deny_next_login()
    page.goto(f"{bi_stack.url}/tracktracker/upload")
    page.click("button.spotify")
    page.wait_for_load_state("load")
    assert "you declined access" in page.inner_text("main")

    fake_spotify.approve_next_login("dave-on-spotify")
    page.click("button.spotify")
    page.wait_for_load_state("load")
    text = page.inner_text("main")
    screenshot(page, "spotify-connected.png", content="main")
    assert "Spotify is connected" in text and "Connected as dave-on-spotify" in text
    with open_registry(bi_stack.settings) as registry:
        assert registry.require_user(dave).spotify_user_id == "dave-on-spotify"


def test_an_admin_is_told_the_page_is_for_listeners(bi_stack: BIStack, browser: BrowserContext) -> None:
    page = login(browser, bi_stack.url, "admin", _admin_password(bi_stack), then="/tracktracker/upload")
    assert "This page is for listeners" in page.inner_text("main")
    page.close()


def _admin_password(stack: BIStack) -> str:
    from tracktracker_assets.dashboards import service

    return service.admin_password(stack.settings)


def test_listeners_can_find_the_page(bi_stack: BIStack) -> None:
    """The Current listening dashboard links to it."""
    client = bi_stack.admin()
    dashboard = client.get(f"/api/v1/dashboard/{bi_stack.provisioned.dashboards['Current listening']}")
    assert "](/tracktracker/upload)" in dashboard["result"]["position_json"]


# gold.recent_plays holds the plays of the 30 days before now(): between a takeout and a later export, a
# play of a listener who plays up to the moment (the synthetic ones) may age out of it
RECENT_DAYS = {"gold/recent_plays.jsonl": ("gold.recent_plays", 30)}


def _without_aged_plays(got: dict[str, bytes], want: dict[str, bytes], exported_by: datetime) -> None:
    """Take the tables relative to now() out of both takeouts (and their row counts out of the
    manifests) once each differs from the other only by plays that aged out before `exported_by`."""
    manifests = [json.loads(members["tracktracker-takeout.json"]) for members in (got, want)]
    for member, (table, days) in RECENT_DAYS.items():
        earlier, later = set(got.pop(member).splitlines()), set(want.pop(member).splitlines())
        assert later <= earlier, f"{member}: the export holds plays the takeout had not"
        cutoff = exported_by - timedelta(days=days)
        aged = [json.loads(line)["ended_at"] for line in earlier - later]
        assert all(datetime.fromisoformat(ended) < cutoff for ended in aged), (member, aged, cutoff)
        for manifest in manifests:
            del manifest["tables"][table]
    for members, manifest in zip((got, want), manifests, strict=True):
        members["tracktracker-takeout.json"] = json.dumps(manifest, sort_keys=True).encode()


def _members(path: Path) -> dict[str, bytes]:
    """A takeout's members; the manifest and README without the moment the takeout was taken."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members.pop("tracktracker-takeout.json"))
    assert manifest.pop("created_at")
    members["tracktracker-takeout.json"] = json.dumps(manifest, sort_keys=True).encode()
    members["README.txt"] = re.sub(rb", taken [^\n]+\n", b"\n", members["README.txt"])
    return members


def test_a_listener_downloads_their_own_takeout_and_nobody_elses(
    bi_stack: BIStack, browser: BrowserContext, tmp_path: Path
) -> None:
    """Asked for on the upload page, built by the orchestrator with the command's own function, then
    downloaded over HTTP once, by its listener only: the same content as `tracktracker export`."""
    settings = bi_stack.settings
    owner, other = "alice", "bob"

    # an anonymous request is refused: sent to the login (a post without a session has no CSRF token
    # either, which Superset refuses first), nothing asked for, nothing handed out
    response = requests.get(f"{bi_stack.url}/tracktracker/takeout", allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    response = requests.post(
        f"{bi_stack.url}/tracktracker/takeout", data={"format": "csv"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 400 or (
        response.status_code == 302 and "/login/" in response.headers["Location"]
    ), response.status_code
    assert users_with_requests(settings) == []

    page = login(browser, bi_stack.url, owner, bi_stack.password(owner), then="/tracktracker/upload")
    assert fetch(page, f"{bi_stack.url}/tracktracker/takeout").status == 404  # nothing asked for yet
    page.check("#takeout input[value=json]")
    page.click("#takeout button[type=submit]")
    page.wait_for_load_state("load")
    assert "is being put together" in page.inner_text("#takeout")
    screenshot(page, "takeout-requested.png", content="main")
    assert users_with_requests(settings) == [owner]

    # the orchestrator's sensor asks for one run for it (not twice for the same request), which builds it
    from dagster import build_sensor_context

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.takeout.definitions import takeout_sensor

    run = takeout_sensor(build_sensor_context(instance=get_instance(settings)))
    assert run.run_key == takeout_sensor(build_sensor_context(instance=get_instance(settings))).run_key
    (built,) = fulfil_requests(settings)
    assert built.parent.name == owner and stat.S_IMODE(built.stat().st_mode) == 0o600
    page.reload()
    assert f"Download {built.name}" in page.inner_text("#takeout")
    screenshot(page, "takeout-ready.png", content="main")
    page.close()

    # another listener gets nothing of it, whatever the URL names
    page = login(browser, bi_stack.url, other, bi_stack.password(other))
    for url in ("", f"?user={owner}", f"/{owner}"):
        response = fetch(page, f"{bi_stack.url}/tracktracker/takeout{url}")
        assert response.status == 404 and b"PK" not in response.body()[:2], url
    # and asking with the other's name asks for their own
    page.goto(f"{bi_stack.url}/tracktracker/upload")
    token = page.get_attribute("#takeout input[name=csrf_token]", "value")
    form = {"csrf_token": token, "format": "csv", "user": owner, "user_id": owner}
    assert page.request.post(f"{bi_stack.url}/tracktracker/takeout", form=form, max_redirects=0).status == 302
    assert users_with_requests(settings) == [other]
    shutil.rmtree(settings.home / "takeout" / other)
    page.close()
    assert built.exists()

    page = login(browser, bi_stack.url, owner, bi_stack.password(owner))
    response = fetch(page, f"{bi_stack.url}/tracktracker/takeout")
    assert response.status == 200 and response.headers["content-type"] == "application/zip"
    downloaded = tmp_path / "downloaded.zip"
    downloaded.write_bytes(response.body())
    assert not built.exists()  # handed out once, then removed
    assert fetch(page, f"{bi_stack.url}/tracktracker/takeout").status == 404
    page.close()

    exported = tmp_path / "exported.zip"
    code, output = cli("export", owner, "--format", "json", "--output", str(exported))
    exported_by = datetime.now(UTC)
    assert code == 0, output
    got, want = _members(downloaded), _members(exported)
    assert sorted(got) == sorted(want) and any(name.startswith("history/") for name in got)
    assert json.loads(got["tracktracker-takeout.json"])["user_id"] == owner
    _without_aged_plays(got, want, exported_by)
    assert all(got[name] == want[name] for name in want), [n for n in want if got[n] != want[n]]
