"""Headless Chromium (Debian's) for the BI tests: a fresh profile, login, waiting for charts to draw."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tracktracker_assets.dashboards.bundle import load_bundle

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

# chart holders (markdown panels share the class, but carry no chart id)
# Only those on screen: the charts of a dashboard's other tabs stay hidden (and are not even loaded
# until their tab is opened).
HOLDERS = """const CHARTS = '.dashboard-component-chart-holder[class*="dashboard-chart-id-"]';
const shown = () => [...document.querySelectorAll(CHARTS)].filter(h => h.offsetParent !== null);"""
# Every chart has drawn something (an ECharts canvas, an SVG map, table rows, a big number) or shown
# its error, and nothing is loading any more.
CHARTS_DRAWN = (
    """
(expected) => {
  """
    + HOLDERS
    + """
  const holders = shown();
  if (holders.length < expected) return false;
  if (document.querySelector('[data-test="loading-indicator"], .loading')) return false;
  return holders.every(h =>
    h.querySelector('.header-line, canvas, svg.datamap, tbody tr, .ant-alert, [data-test="error-tooltip"]')
    || /No results/.test(h.innerText));
}
"""
)

CHART_REPORT = (
    """
() => {
  """
    + HOLDERS
    + """
  return shown().map(h => {
  let painted = 0;
  for (const canvas of h.querySelectorAll('canvas')) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 64) if (data[i] > 0) painted++;
  }
  const title = h.querySelector('[data-test="editable-title"]');
  return {
    title: title ? title.innerText : '',
    text: h.innerText,
    painted,
    rows: h.querySelectorAll('tbody tr').length,
    countries: h.querySelectorAll('svg.datamap path.datamaps-subunit').length,
    bigNumber: (h.querySelector('.header-line') || {}).innerText || null,
    errors: h.querySelectorAll('.ant-alert-error, [data-test="error-tooltip"]').length,
  };
  });
}
"""
)

CONTENT_BOTTOM = """
(selector) => Math.max(
  0, ...[...document.querySelectorAll(selector)].map(e => e.getBoundingClientRect().bottom))
"""


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="tt-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            # tall enough for the longest dashboard: a full-page screenshot would resize the window,
            # and Superset redraws every chart on a resize (the picture would catch an empty grid)
            viewport={"width": 1500, "height": 4000},
        )
        try:
            yield context
        finally:
            context.close()


# where a sign-in without a page of its own lands: a plain answer of Superset's that loads none of its
# single-page app (~15 MB of scripts, and the welcome page's own queries), which the test's next page
# loads anyway; the welcome page itself is tested in test_browser.py
LANDING = "/health"


def login(
    context: BrowserContext,
    base_url: str,
    user: str,
    password: str,
    then: str = LANDING,
) -> Page:
    """A new page signed in as user, on `then` (a path): the login form's own `next`, so that Superset's
    single-page app loads once, where the test goes."""
    context.clear_cookies()
    page = context.new_page()
    page.goto(f"{base_url}/login/?next={quote(then, safe='')}")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    assert urlsplit(page.url).path == then, page.url
    return page


def screenshot(page: Page, name: str, content: str | None = ".dashboard-component") -> None:
    """The page down to the end of its content (the last `content` element; None: the window), without
    resizing the window: the filter bar and Superset's frame stretch to the window, so they do not count."""
    bottom = page.evaluate(CONTENT_BOTTOM, content) if content else 0
    height = min(4000, int(bottom) + 24) if bottom else 1000
    page.screenshot(path=str(SCREENSHOTS / name), clip={"x": 0, "y": 0, "width": 1500, "height": height})


def dashboard_tabs(slug: str) -> list[tuple[str | None, list[str]]]:
    """(tab title, its charts' names) of a dashboard of the bundle, in order; (None, every chart) for a
    dashboard without tabs."""
    (dashboard,) = [
        c for name, c in load_bundle().items() if name.startswith("dashboards/") and c["slug"] == slug
    ]
    position = dashboard["position"]

    def charts(node_id: str) -> list[str]:
        node = position[node_id]
        if node["type"] == "CHART":
            return [node["meta"]["sliceName"]]
        return [name for child in node.get("children", []) for name in charts(child)]

    tabs = [node for node in position.values() if isinstance(node, dict) and node.get("type") == "TABS"]
    if not tabs:
        return [(None, charts("ROOT_ID"))]
    (group,) = tabs  # one row of tabs (nested tabs would need their own clicks)
    return [(position[tab]["meta"]["text"], charts(tab)) for tab in group["children"]]


def open_tab(page: Page, title: str | None) -> None:
    if title is not None:
        page.get_by_role("tab", name=title).click()  # its name carries hidden extras: not exact


def charts_of(page: Page, expected: int) -> list[dict]:
    """Wait until every chart on screen has drawn, then describe each one."""
    page.wait_for_function(CHARTS_DRAWN, arg=expected, timeout=90_000)
    page.wait_for_timeout(1500)  # ECharts' entry animation, before the picture
    return page.evaluate(CHART_REPORT)
