"""Dashboards under load: 20 listeners open *Listening history* at the same moment in headless Chromium.

    .venv/bin/python bench/bench_dashboards.py [--listeners 20] [--plays 200000]

A scratch TRACKTRACKER_HOME; a modest gold (synthetic Spotify exports, `--plays` over `--listeners`
listeners, registered with `users add` and loaded through the inbox, Dagster and dbt like any import);
storage started by `tracktracker up --no-ui`, Superset started and provisioned as `up` does
(tracktracker_assets.cli.superset.start_and_provision). Then one Chromium with one context per listener:
each logs in, and all open the dashboard at once. Measured per listener: from the navigation until every
chart of the visible tab has drawn (the browser tests' own check). Beside it, the server's share alone
("page data"): the same listeners, logged in over the API, all send the page's chart-data requests at
once (those of superset/warmup/<slug>.json that the browser sends when the page opens on its first tab,
up to 6 in flight per listener as a browser keeps per host), timed until the last answer. Three runs:

- cold: the chart cache on (the default) and empty;
- warm: the cache renewed as after a refresh (tracktracker_assets.dashboards.warm.warm_listeners);
- off: TRACKTRACKER_SUPERSET_CACHE=off (Superset restarted): every chart queried, the floor comparison.

The floor of the drawn page, in the same run: one listener alone opens it (warm), timed, with the CPU
seconds the whole machine spent meanwhile; 20 pages at once need at least 20 times that CPU over the
cores, whatever the server does.

Prints a table and writes bench/out/dashboards.json. Goal (issue 12): full page p95 <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
TRACKTRACKER = REPO / ".venv" / "bin" / "tracktracker"
SLUG = "listening-history"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def seconds(value: float) -> float | None:
    """Rounded; None for a page that never drew (JSON has no infinity)."""
    return None if value == float("inf") else round(value, 2)


def spread(times: list[float]) -> dict[str, object]:
    """p50, p95, max and every figure of one round, in seconds."""
    return {
        "p50_s": seconds(percentile(times, 50)),
        "p95_s": seconds(percentile(times, 95)),
        "max_s": seconds(max(times)),
        "each_s": [seconds(t) for t in times],
    }


def tt(*args: str) -> None:
    result = subprocess.run([str(TRACKTRACKER), *args], capture_output=True, text=True, env=os.environ.copy())
    if result.returncode != 0:
        raise SystemExit(
            f"tracktracker {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )


def build_gold(home: Path, listeners: int, plays: int) -> list[str]:
    from rich.console import Console

    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.orchestration.pipeline import load_and_refresh
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.synthetic import generate_dataset

    settings = get_settings()
    exports = home / "exports"
    generate_dataset(exports, listeners, plays, formats=["current"])
    manifest = json.loads((exports / "manifest.json").read_text())
    users = [u["user_id"] for u in manifest["users"]]
    for user in manifest["users"]:
        tt("users", "add", user["user_id"], "--timezone", user["tz"])
        for name in user["files"]:
            drop_into_inbox(settings, user["user_id"], exports / name)
    started = time.perf_counter()
    if not load_and_refresh(settings, Console(quiet=True), users):
        raise SystemExit("the import failed; see the Dagster logs under the scratch home")
    seconds = time.perf_counter() - started
    log(f"gold built: {manifest['plays']:,} plays of {len(users)} listeners in {seconds:.0f} s")
    shutil.rmtree(exports)
    return users


def visible_charts() -> int:
    from tracktracker_assets.dashboards.bundle import load_bundle

    (dashboard,) = [c for n, c in load_bundle().items() if n.startswith("dashboards/") and c["slug"] == SLUG]
    position = dashboard["position"]

    def charts(node_id: str) -> int:
        node = position[node_id]
        return 1 if node["type"] == "CHART" else sum(charts(c) for c in node.get("children", []))

    tabs = [n for n in position.values() if isinstance(n, dict) and n.get("type") == "TABS"]
    return charts(tabs[0]["children"][0]) if tabs else charts("ROOT_ID")


UNDRAWN_STATE = """(expected) => ({
  url: location.href,
  charts: document.querySelectorAll('.dashboard-component-chart-holder[class*="dashboard-chart-id-"]').length,
  expected,
  loading: Array.from(document.querySelectorAll('[data-test="loading-indicator"], .loading'))
    .slice(0, 5).map(e => (e.closest('[data-test]') || e).getAttribute('data-test') || e.className),
  text: document.body.innerText.slice(0, 400),
  recorded_ms: window.__ttDrawnMs ?? null,
})"""


def drawn_recorder(expected: int) -> str:
    """A script for every document of a listener's page: on the dashboard, it checks every 50 ms
    whether the charts in view drew (the browser tests' own check) and records when, in ms since the
    navigation to it started (performance.now(): the document's time origin is that start). The page
    keeps its own time, so a bench slow to ask (20 renderers on 2 cores) cannot stretch it."""
    from tests.dashboards.browser import CHARTS_DRAWN

    return f"""(() => {{
  const drawn = {CHARTS_DRAWN};
  const tick = () => {{
    if (!location.pathname.startsWith('/superset/dashboard/{SLUG}/')) return;
    try {{ if (drawn({expected})) {{ window.__ttDrawnMs = performance.now(); return; }} }} catch (e) {{}}
    setTimeout(tick, 50);
  }};
  setTimeout(tick, 50);
}})();"""


def open_at_once(base_url: str, users: list[str], passwords: dict[str, str], label: str) -> list[float]:
    """Seconds until every chart of the visible tab drew, per listener, all navigating together (as
    each page recorded it, drawn_recorder). Pages that did not draw in time leave what they showed in
    bench/out (undrawn-<label>.json and a screenshot of the first)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from tests.dashboards.browser import CHROMIUM, CHROMIUM_ARGS

    expected = visible_charts()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            pages = []
            for user in users:  # logins first, not measured
                log(f"logging in {user}")
                context = browser.new_context(viewport={"width": 1500, "height": 2000})
                context.add_init_script(drawn_recorder(expected))
                page = context.new_page()
                page.goto(f"{base_url}/login/")
                page.fill("#username", user)
                page.fill("#password", passwords[user])
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
                pages.append(page)
            log(f"{len(pages)} listeners logged in; opening the dashboard in every page at once")
            url = f"{base_url}/superset/dashboard/{SLUG}/"
            for page in pages:
                # not page.goto: it waits for each navigation in turn, and the pages must start together
                page.evaluate("url => { window.location.href = url; }", url)
            done: dict[int, float] = {}
            deadline = time.perf_counter() + 300
            while len(done) < len(pages) and time.perf_counter() < deadline:
                for i, page in enumerate(pages):
                    if i in done:
                        continue
                    try:
                        drawn_ms = page.evaluate("() => window.__ttDrawnMs ?? null")
                    except PlaywrightError:  # the page is between documents
                        drawn_ms = None
                    if isinstance(drawn_ms, (int, float)) and page.url.startswith(url):
                        done[i] = drawn_ms / 1000
                time.sleep(0.25)
            undrawn = [page for i, page in enumerate(pages) if i not in done]
            if undrawn:
                OUT.mkdir(parents=True, exist_ok=True)
                undrawn[0].screenshot(path=str(OUT / f"undrawn-{label}.png"), full_page=True)
                states = []
                for page in undrawn:
                    try:
                        states.append(page.evaluate(UNDRAWN_STATE, expected))
                    except PlaywrightError as error:
                        states.append({"error": str(error)[:300]})
                (OUT / f"undrawn-{label}.json").write_text(json.dumps(states, indent=2))
                log(f"{len(undrawn)} pages did not draw; what they showed: bench/out/undrawn-{label}.*")
            # a page that never drew counts as the whole wait (p95 then says so); the count is reported
            return [done.get(i, float("inf")) for i in range(len(pages))]
        finally:
            browser.close()


def busy_cpu_seconds() -> float:
    """CPU seconds this machine's cores have spent busy since boot (every process: the browser,
    Superset, PostgreSQL), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def draw_alone(base_url: str, user: str, password: str) -> dict[str, float]:
    """The floor of the page drawn: one listener alone opens the dashboard (twice; the second,
    with the browser's own caches warm as for a person who opened it before, is kept). Its wall
    time, and the CPU seconds the whole machine spent on it: 20 pages at once need at least 20
    times that CPU, shared by the cores."""
    from playwright.sync_api import sync_playwright

    from tests.dashboards.browser import CHARTS_DRAWN, CHROMIUM, CHROMIUM_ARGS

    expected = visible_charts()
    url = f"{base_url}/superset/dashboard/{SLUG}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1500, "height": 2000}).new_page()
            page.goto(f"{base_url}/login/")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda at: "/login" not in at, timeout=60_000)
            measured: dict[str, float] = {}
            for _ in range(2):
                page.goto(f"{base_url}/api/v1/me/")  # away from the dashboard, so each open is whole
                time.sleep(1)
                cpu, began = busy_cpu_seconds(), time.perf_counter()
                page.evaluate("url => { window.location.href = url; }", url)
                page.wait_for_function(
                    f"() => location.href.startsWith({json.dumps(url)}) && ({CHARTS_DRAWN})({expected})",
                    timeout=120_000,
                    polling=50,
                )
                measured = {
                    "wall_s": round(time.perf_counter() - began, 2),
                    "cpu_s": round(busy_cpu_seconds() - cpu, 2),
                }
            return measured
        finally:
            browser.close()


# requests a browser keeps in flight to one host (HTTP/1.1)
BROWSER_CONNECTIONS = 6


def page_data_at_once(settings: object, users: list[str], passwords: dict[str, str]) -> list[float]:
    """Seconds until every chart-data request of the page was answered, per listener, all at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.dashboards.browser import dashboard_tabs
    from tracktracker_assets.dashboards import provision, service, warm
    from tracktracker_assets.dashboards.bundle import load_bundle
    from tracktracker_assets.dashboards.client import SupersetClient

    # the page opens on its first tab: its charts and the native filters, as the browser asks
    in_view = set(dashboard_tabs(SLUG)[0][1])
    entries = [
        e
        for e in json.loads(warm.recording_path(SLUG).read_text())["requests"]
        if e.get("chart") is None or e["chart"] in in_view
    ]
    assert len(entries) > len(in_view) > 0, f"the recording of {SLUG} lacks the charts in view"
    found, _ = provision.find_objects(provision.admin_client(settings), load_bundle())
    bodies = [warm.render(e, found) for e in entries]
    clients = [SupersetClient(service.url(settings), u, passwords[u]) for u in users]  # not measured
    start = threading.Barrier(len(clients))

    def open_page(client: SupersetClient) -> float:
        def ask(body: dict) -> None:
            results = client.chart_data(body)
            if not all(r.get("status") == "success" for r in results):
                raise SystemExit(f"a chart of {client.username} failed: {str(results)[:300]}")

        start.wait()
        began = time.perf_counter()
        with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
            list(pool.map(ask, bodies))
        return time.perf_counter() - began

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(open_page, clients))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--plays", type=int, default=200_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tt-bench-dashboards-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    os.environ.pop("TRACKTRACKER_SUPERSET_CACHE", None)
    from rich.console import Console

    from tracktracker_assets.cli.superset import start_and_provision
    from tracktracker_assets.dashboards import service, warm
    from tracktracker_assets.dashboards.cache import clear_chart_data
    from tracktracker_assets.dashboards.config import bi_settings
    from tracktracker_assets.dashboards.listeners import listener_password
    from tracktracker_assets.settings import get_settings

    settings = get_settings()
    config = bi_settings()
    results: dict[str, object] = {
        "listeners": args.listeners,
        "plays": args.plays,
        "cores": os.cpu_count(),
        "superset_workers": config.workers,
        "superset_threads": config.threads,
        "visible_charts": visible_charts(),
    }
    runs: dict[str, list[float]] = {}  # page drawn
    data: dict[str, list[float]] = {}  # page data
    try:
        tt("up", "--no-demo", "--no-ui")
        users = build_gold(home, args.listeners, args.plays)
        start_and_provision(settings, Console(quiet=True))
        passwords = {u: listener_password(settings, u) or "" for u in users}

        clear_chart_data(settings.home, None)
        log("cold: cache on and empty")
        data["cold"] = page_data_at_once(settings, users, passwords)
        clear_chart_data(settings.home, None)
        runs["cold"] = open_at_once(service.url(settings), users, passwords, "cold")

        clear_chart_data(settings.home, None)
        began = time.perf_counter()
        report = warm.warm_listeners(settings, users)
        results["warm_up_s"] = round(time.perf_counter() - began, 1)
        results["warm_up"] = report.summary()
        log(f"warm: {report.summary()} in {results['warm_up_s']} s")
        data["warm"] = page_data_at_once(settings, users, passwords)
        alone = draw_alone(service.url(settings), users[0], passwords[users[0]])
        cores = os.cpu_count() or 1
        alone["floor_for_all_s"] = round(alone["cpu_s"] * len(users) / cores, 1)
        results["drawn_alone_warm"] = alone
        log(f"one listener alone, warm: {alone}")
        runs["warm"] = open_at_once(service.url(settings), users, passwords, "warm")

        service.stop(settings)
        service.start(settings, extra_env={"TRACKTRACKER_SUPERSET_CACHE": "off"})
        log("off: TRACKTRACKER_SUPERSET_CACHE=off")
        data["off"] = page_data_at_once(settings, users, passwords)
        runs["off"] = open_at_once(service.url(settings), users, passwords, "off")
    finally:
        service.stop(settings)
        if any(t == float("inf") for times in runs.values() for t in times):
            OUT.mkdir(parents=True, exist_ok=True)  # the server's side of a round that did not draw
            shutil.copy(service.log_file(settings), OUT / "superset-undrawn.log")
        subprocess.run([str(TRACKTRACKER), "down"], capture_output=True, env=os.environ.copy())
        shutil.rmtree(home, ignore_errors=True)
    table = {
        name: {**spread(times), "not_drawn_in_300_s": sum(t == float("inf") for t in times)}
        for name, times in runs.items()
    }
    results["page_drawn"] = table
    served_table = {name: spread(times) for name, times in data.items()}
    results["page_data"] = served_table
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dashboards.json").write_text(json.dumps(results, indent=2))
    print(
        f"\n{args.listeners} listeners open '{SLUG}' at once ({results['visible_charts']} charts in view), "
        f"{results['superset_workers']} workers x {results['superset_threads']} threads, "
        f"{results['cores']} cores"
    )
    alone = results["drawn_alone_warm"]
    print(
        f"one listener alone (warm): drawn in {alone['wall_s']} s, {alone['cpu_s']} CPU s of the machine; "
        f"{args.listeners} such pages need >= {alone['floor_for_all_s']} s on {results['cores']} cores"
    )
    print(f"{'cache':<6} {'what':<11} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'not drawn':>10}")
    for name, row in table.items():
        served = served_table[name]
        p50, p95, most = served["p50_s"], served["p95_s"], served["max_s"]
        print(f"{name:<6} {'page data':<11} {p50!s:>7} {p95!s:>7} {most!s:>7}")
        missing = row["not_drawn_in_300_s"]
        print(
            f"{name:<6} {'page drawn':<11} {row['p50_s']!s:>7} {row['p95_s']!s:>7} {row['max_s']!s:>7} "
            f"{missing:>10}"
        )


if __name__ == "__main__":
    main()
