"""Warm Superset's chart cache for listeners whose gold a refresh changed, so their next page view is
served from the cache.

A cached result is keyed by what the query asks *and by who asks* (CACHE_QUERY_BY_USER: the user's name
is in every key). So the requests must be the browser's own, made as the listener:

- what: the chart-data requests Superset's frontend sends when a dashboard opens, recorded from a real
  browser in superset/warmup/<slug>.json (ids replaced by names: chart, dataset and dashboard ids differ
  between installs). The frontend builds them itself (each chart type adds its own post-processing),
  so nothing server-side reproduces them; tests/dashboards/test_warm.py checks the recording is still
  what the browser sends, and re-records it with TRACKTRACKER_RECORD_WARMUP=1.
  Only dashboards whose opening requests are the same for every listener are recorded: Explore and
  Global trends first pick a value from the listener's own data (an artist, a week).
- who: the listener, logged in with the password TrackTracker generated for them. A listener who chose
  their own password in Superset is not warmed (the admin cannot stand in: its name would key the
  entries as the admin's, which is exactly what keeps listeners apart).

Warming is best effort: a failure is reported, never raised into the refresh that triggered it.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracktracker_assets.dashboards.client import SupersetClient, SupersetError
from tracktracker_assets.settings import Settings

WARMUP_DIR = Path(__file__).resolve().parents[2] / "superset" / "warmup"
# requests in flight per listener: Superset's work is CPU-bound, more only queue on its threads
PARALLEL = 2


@dataclass
class WarmReport:
    warmed: dict[str, int] = field(default_factory=dict)  # user -> chart-data requests answered
    skipped: dict[str, str] = field(default_factory=dict)  # user -> why not
    failed: dict[str, str] = field(default_factory=dict)  # user -> what went wrong

    def summary(self) -> str:
        parts = []
        if self.warmed:
            parts.append(f"dashboards warmed for {len(self.warmed)} listener(s)")
        if self.skipped:
            parts.append("not warmed: " + "; ".join(f"{u} ({w})" for u, w in sorted(self.skipped.items())))
        if self.failed:
            parts.append("warming failed: " + "; ".join(f"{u} ({e})" for u, e in sorted(self.failed.items())))
        return ", ".join(parts) or "nothing to warm"


# ---- the recording ---------------------------------------------------------------------------------
def normalise(body: dict[str, Any], names: dict[str, dict[int, str]]) -> dict[str, Any]:
    """A browser's chart-data request with its install-specific ids replaced by names.

    names: {"dataset": {id: table_name}, "chart": {id: slice_name}, "dashboard": {id: title}}
    """
    body = copy.deepcopy(body)
    body["datasource"] = {"id": 0, "type": body["datasource"]["type"]}
    form = body.get("form_data") or {}
    dataset_id = int(str(form.get("datasource", "")).split("__")[0])
    out: dict[str, Any] = {"dataset": names["dataset"][dataset_id], "chart": None, "dashboard": None}
    form["datasource"] = f"0__{body['datasource']['type']}"
    # the page's URL parameters (a native_filters_key once the listener has set a filter) are the
    # browser's state, not part of the query, and not of its cache key (QueryObject.cache_key)
    for part in (form, *body.get("queries", [])):
        if "url_params" in part:
            part["url_params"] = {}
    if form.get("slice_id") is not None:
        out["chart"] = names["chart"][int(form["slice_id"])]
        form["slice_id"] = 0
    if form.get("chart_id") is not None:  # the frontend's copy of slice_id
        form["chart_id"] = 0
    if form.get("dashboardId") is not None:
        out["dashboard"] = names["dashboard"][int(form["dashboardId"])]
        form["dashboardId"] = 0
    body["force"] = False
    out["body"] = body
    return out


def render(entry: dict[str, Any], ids: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A recorded request with this install's ids (ids: the `found` of provision.find_objects)."""
    body = copy.deepcopy(entry["body"])
    dataset_id = ids["dataset"][entry["dataset"]]
    body["datasource"]["id"] = dataset_id
    form = body.setdefault("form_data", {})
    form["datasource"] = f"{dataset_id}__{body['datasource']['type']}"
    if entry.get("chart") is not None:
        form["slice_id"] = ids["chart"][entry["chart"]]
        if "chart_id" in form:
            form["chart_id"] = form["slice_id"]
    if entry.get("dashboard") is not None:
        form["dashboardId"] = ids["dashboard"][entry["dashboard"]]
    return body


def recording_path(slug: str, folder: Path = WARMUP_DIR) -> Path:
    return folder / f"{slug}.json"


def recorded(folder: Path = WARMUP_DIR) -> list[dict[str, Any]]:
    """Every recorded request of every recorded dashboard."""
    entries: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        entries.extend(json.loads(path.read_text())["requests"])
    return entries


def worth_warming(entry: dict[str, Any]) -> bool:
    """The time-grain filter's request lists the grains from the dataset's metadata: no query, nothing
    cached."""
    return entry["body"].get("form_data", {}).get("viz_type") != "filter_timegrain"


def distinct(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One of each request worth warming, in a stable order."""
    unique = {json.dumps(e, sort_keys=True): e for e in entries if worth_warming(e)}
    return [unique[k] for k in sorted(unique)]


def write_recording(slug: str, entries: list[dict[str, Any]], folder: Path = WARMUP_DIR) -> Path:
    """Store a dashboard's requests (see distinct)."""
    path = recording_path(slug, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"dashboard": slug, "requests": distinct(entries)}
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return path


# ---- warming -----------------------------------------------------------------------------------------
def warm_listener(client: SupersetClient, bodies: list[dict[str, Any]]) -> int:
    """Ask every request afresh (force: a refresh just changed the answers) as the client's user, so
    the result is stored under that user's keys. Returns how many were answered."""

    def ask(body: dict[str, Any]) -> int:
        body = {**body, "force": True}
        results = client.chart_data(body)
        return int(all(r.get("status") == "success" for r in results))

    with ThreadPoolExecutor(PARALLEL) as pool:
        return sum(pool.map(ask, bodies))


def warm_listeners(settings: Settings, user_ids: list[str] | set[str]) -> WarmReport:
    """Warm every recorded dashboard for each listener (who has a Superset account we can log in as)."""
    from tracktracker_assets.dashboards import provision, service
    from tracktracker_assets.dashboards.bundle import load_bundle
    from tracktracker_assets.dashboards.listeners import listener_password

    report = WarmReport()
    users = sorted(set(user_ids))
    entries = recorded()
    if not users or not entries:
        return report
    if not service.is_running(settings):
        report.skipped.update({u: "Superset is not running" for u in users})
        return report
    try:
        found, _ = provision.find_objects(provision.admin_client(settings), load_bundle())
        bodies = [render(e, found) for e in entries]
    except (SupersetError, KeyError, OSError) as exc:
        report.failed.update({u: f"the dashboards are not provisioned: {exc}" for u in users})
        return report
    base_url = service.url(settings)
    for user in users:
        password = listener_password(settings, user)
        if not password:
            report.skipped[user] = "no password of theirs is kept (set by them or at `users add`)"
            continue
        try:
            client = SupersetClient(base_url, user, password)
        except SupersetError as exc:
            reason = "they changed their password" if exc.status == 401 else str(exc)[:200]
            report.skipped[user] = reason
            continue
        try:
            report.warmed[user] = warm_listener(client, bodies)
        except (SupersetError, OSError) as exc:
            report.failed[user] = str(exc)[:300]
    return report


def after_refresh(settings: Settings, changed: set[str], *, details_changed: bool = False) -> str:
    """After a build that changed these listeners' gold, or took in catalog details (genres, release
    years) that change anyone's charts: drop every cached chart result (keys are hashes, so the changed
    listeners' cannot be picked out; a stale answer must never be served), then warm the changed
    listeners' dashboards. Never raises: the refresh itself succeeded."""
    from tracktracker_assets.dashboards.cache import clear_chart_data
    from tracktracker_assets.dashboards.config import bi_settings

    if not changed and not details_changed:
        return "no listener's gold changed: the chart cache stays"
    config = bi_settings()
    try:
        if config.cache:
            clear_chart_data(settings.home, config.cache_redis_url)
    except Exception as exc:  # a cache server down must not fail the refresh that already succeeded
        expiry = config.cache_timeout
        return f"the chart cache could not be emptied ({exc}); cached charts expire within {expiry} s"
    if not config.cache:
        return "the chart cache is off"
    if not changed:  # details only: nobody's plays changed, so nobody is warmed ahead of their visit
        return "catalog details changed: the chart cache was emptied"
    try:
        return warm_in_background(settings, changed)
    except Exception as exc:  # warming only saves the listener a wait: never fail the refresh for it
        return f"warming failed: {exc}"


def warm_in_background(settings: Settings, user_ids: set[str]) -> str:
    """Warming costs Superset a few seconds of CPU per listener: a process of its own does it, so
    whoever waits for the refresh (an import on the command line) does not wait for the warming too.
    Its outcome goes to logs/warm.log."""
    from tracktracker_assets.dashboards import service

    if not service.is_running(settings):
        return "Superset is not running: nothing to warm"
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.log_dir / "warm.log", "a") as log:
        subprocess.Popen(
            [sys.executable, "-m", "tracktracker_assets.dashboards.warm", *sorted(user_ids)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the import is not meant for it
            env={**os.environ, "TRACKTRACKER_HOME": str(settings.home)},
        )
    return f"warming the dashboards of {len(user_ids)} listener(s) in the background (logs/warm.log)"


def main(argv: list[str]) -> None:
    from datetime import UTC, datetime

    from tracktracker_assets.settings import get_settings

    report = warm_listeners(get_settings(), argv)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC {', '.join(argv)}: {report.summary()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
