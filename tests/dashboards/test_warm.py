"""Warming the chart cache after a refresh (tracktracker_assets/dashboards/warm.py), on the real Superset
and in Chromium: the recorded requests are still the ones the browser sends, and after warming, a
listener's dashboard is served from the cache, chart by chart, tab by tab."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page

from tracktracker_assets.dashboards import warm
from tracktracker_assets.dashboards.cache import clear_chart_data

from .browser import charts_of, chromium, dashboard_tabs, login, open_tab
from .conftest import BIStack

pytestmark = pytest.mark.slow
# the dashboards whose opening requests are the same for every listener (warm.py says why only those)
RECORDED = ("current-listening", "listening-history")


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def open_every_tab(page: Page, url: str, slug: str) -> list[dict]:
    """Open the dashboard and each of its tabs; every chart-data request and its answer."""
    seen: list[dict] = []

    def on_response(response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            seen.append({"body": response.request.post_data_json, "status": response.status,
                         "results": response.json().get("result", [])})  # fmt: skip

    page.on("response", on_response)
    page.goto(f"{url}/superset/dashboard/{slug}/")
    for tab, names in dashboard_tabs(slug):
        open_tab(page, tab)
        charts_of(page, len(names))
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    return seen


def names_of(stack: BIStack) -> dict[str, dict[int, str]]:
    p = stack.provisioned
    return {
        "dataset": {i: n for n, i in p.datasets.items()},
        "chart": {i: n for n, i in p.charts.items()},
        "dashboard": {i: n for n, i in p.dashboards.items()},
    }


def test_the_recording_is_what_the_browser_sends(bi_stack: BIStack, browser: BrowserContext) -> None:
    """Warming is useless unless its requests are, key for key, the browser's: re-record with
    TRACKTRACKER_RECORD_WARMUP=1 when a chart or the frontend changes."""
    page = login(browser, bi_stack.url, "carol", bi_stack.password("carol"))
    names = names_of(bi_stack)
    for slug in RECORDED:
        sent = [warm.normalise(r["body"], names) for r in open_every_tab(page, bi_stack.url, slug)]
        assert sent and all(r["chart"] or r["body"]["form_data"].get("viz_type", "").startswith("filter_")
                            for r in sent)  # fmt: skip
        unique = [json.dumps(e, sort_keys=True) for e in warm.distinct(sent)]
        if os.environ.get("TRACKTRACKER_RECORD_WARMUP"):
            warm.write_recording(slug, sent)
        recorded = json.loads(warm.recording_path(slug).read_text())["requests"]
        assert unique == sorted(json.dumps(e, sort_keys=True) for e in recorded), (
            f"superset/warmup/{slug}.json is not what the browser sends: re-record it with "
            "TRACKTRACKER_RECORD_WARMUP=1 .venv/bin/python -m pytest tests/dashboards/test_warm.py"
        )
    page.close()


def test_a_warmed_listener_is_served_from_the_cache(bi_stack: BIStack, browser: BrowserContext) -> None:
    # nothing of earlier tests' page views may answer for the warm-up
    clear_chart_data(bi_stack.settings.home, None)
    report = warm.warm_listeners(bi_stack.settings, ["bob"])
    assert report.warmed == {"bob": len(warm.recorded())}, report.summary()
    page = login(browser, bi_stack.url, "bob", bi_stack.password("bob"))
    for slug in RECORDED:
        answered = open_every_tab(page, bi_stack.url, slug)
        assert answered
        for response in answered:
            assert response["status"] == 200
            form_data = response["body"]["form_data"]
            if form_data.get("viz_type") == "filter_timegrain":
                continue  # no query behind it (warm.worth_warming)
            for result in response["results"]:
                assert result["is_cached"], (slug, form_data.get("slice_id"), form_data.get("viz_type"))
    page.close()


def test_a_listener_who_set_their_own_password_is_not_warmed(bi_stack: BIStack) -> None:
    from tracktracker_assets.dashboards.listeners import password_file

    path = password_file(bi_stack.settings, "khushi")
    kept = path.read_text()
    path.write_text("not-their-password\n")
    try:
        report = warm.warm_listeners(bi_stack.settings, ["khushi"])
    finally:
        path.write_text(kept)
    assert report.warmed == {} and "khushi" in report.skipped, report.summary()


def test_after_a_refresh_the_cache_is_emptied_and_warmed_in_the_background(bi_stack: BIStack) -> None:
    """What a refresh calls: the chart cache emptied at once (never a stale answer), the warming left
    to a process of its own (whoever waits for the refresh does not wait for it), which warms them."""
    import time

    data = bi_stack.settings.home / "superset" / "cache" / "data"

    def cached() -> int:  # chart results in the file cache (not its own bookkeeping file)
        return sum(1 for p in data.iterdir() if not p.name.startswith("__")) if data.is_dir() else 0

    log = bi_stack.settings.log_dir / "warm.log"
    before = log.read_text() if log.exists() else ""
    said = warm.after_refresh(bi_stack.settings, {"bob"})
    assert "in the background" in said, said
    assert cached() == 0  # emptied before it returned
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        added = log.read_text()[len(before) :] if log.exists() else ""
        if "bob:" in added:
            break
        time.sleep(0.5)
    assert "bob: dashboards warmed for 1 listener(s)" in added, added
    assert cached() > 0
