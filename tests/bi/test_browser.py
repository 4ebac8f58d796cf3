"""Headless Chromium as a listener: the dashboard renders their own figures, SQL Lab shows their rows.

Screenshots go to test-output/screenshots/ for a person to look at.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Response, sync_playwright

from .conftest import LISTENERS, BIStack

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DASHBOARD_SLUG = "listening-history"

# Every chart holder is drawn: an ECharts canvas with pixels on it, or a big number.
CHARTS_DRAWN = """
(expected) => {
  const holders = [...document.querySelectorAll('.dashboard-component-chart-holder')];
  if (holders.length < expected) return false;
  if (document.querySelector('[data-test="loading-indicator"], .loading')) return false;
  return holders.every(h => h.querySelector('.header-line, canvas'));
}
"""

CHART_REPORT = """
() => [...document.querySelectorAll('.dashboard-component-chart-holder')].map(h => {
  let painted = 0;
  for (const canvas of h.querySelectorAll('canvas')) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 64) if (data[i] > 0) painted++;
  }
  const header = h.querySelector('.header-line');
  return {
    title: (h.querySelector('[data-test="editable-title"]') || {}).innerText || '',
    text: h.innerText,
    painted,
    bigNumber: header ? header.innerText : null,
    errors: h.querySelectorAll('.ant-alert-error, [data-test="error-tooltip"]').length,
  };
})
"""


@pytest.fixture(scope="module")
def browser_context() -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="tt-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def _login(context: BrowserContext, stack: BIStack, user: str) -> Page:
    context.clear_cookies()
    page = context.new_page()
    page.goto(f"{stack.url}/login/")
    page.fill("#username", user)
    page.fill("#password", stack.passwords[user])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    return page


@pytest.mark.parametrize("user", list(LISTENERS))
def test_dashboard_renders_the_listeners_own_figures(
    bi_stack: BIStack, browser_context: BrowserContext, user: str
) -> None:
    page = _login(browser_context, bi_stack, user)
    data_calls: list[Response] = []
    page.on("response", lambda r: data_calls.append(r) if "/api/v1/chart/data" in r.url else None)
    expected_charts = len(bi_stack.provisioned.charts)
    page.goto(f"{bi_stack.url}/superset/dashboard/{DASHBOARD_SLUG}/")
    page.wait_for_function(CHARTS_DRAWN, arg=expected_charts, timeout=60_000)
    page.wait_for_timeout(1500)  # let ECharts finish its entry animation before the picture
    page.screenshot(path=str(SCREENSHOTS / f"{DASHBOARD_SLUG}-{user}.png"), full_page=True)

    charts = page.evaluate(CHART_REPORT)
    assert len(charts) == expected_charts
    for chart in charts:
        assert chart["errors"] == 0, chart
        text = chart["text"].lower()
        assert "no results" not in text and "error" not in text, chart
        assert chart["bigNumber"] or chart["painted"] > 200, f"{chart['title']} looks empty: {chart}"
    ((plays,),) = bi_stack.query(
        "select count(*) filter (where is_counted_play) from gold.fct_plays where user_id = %s", (user,)
    )
    (big,) = [c["bigNumber"] for c in charts if c["bigNumber"]]
    assert big.replace(",", "") == str(plays)
    assert len(data_calls) >= expected_charts
    for response in data_calls:
        assert response.status == 200, response.url
        for result in response.json()["result"]:
            assert result["rowcount"] > 0
            assert all(row.get("user_id", user) == user for row in result["data"])
    page.close()


def test_sql_lab_in_the_browser_shows_only_own_rows(
    bi_stack: BIStack, browser_context: BrowserContext
) -> None:
    page = _login(browser_context, bi_stack, "bob")
    page.goto(f"{bi_stack.url}/sqllab/")
    page.wait_for_load_state("networkidle")
    if page.locator(".ace_text-input").count() == 0:
        page.get_by_text("Add a new tab").first.click()
    editor = page.locator(".ace_text-input").first
    editor.wait_for(state="attached", timeout=30_000)
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("select user_id, count(*) as plays from gold.fct_plays group by user_id")
    page.keyboard.press("Control+Enter")
    page.get_by_text("1 row", exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "sqllab-bob.png"))
    body = page.inner_text("body")
    assert "bob" in body and "alice" not in body and "carol" not in body
    # SQL Lab's syntax check (pgsanity) works, so no false error marker in the gutter
    assert page.locator(".ace_error").count() == 0
    page.close()
