"""Superset benchmark: latency of every chart's data request over a large gold, and concurrent listeners.

    .venv/bin/python bench/bench_superset.py [prepare] [measure] [--plays 10000000] [--users 1000]

`prepare` (once; ~15 min for 10M plays): generates the synthetic exports, registers the listeners with
their time zones, loads bronze with the product's loader, deletes the JSON again (disk), and builds
silver and gold with dbt, all in a persistent TRACKTRACKER_HOME (bench/out/superset-home).
`measure`: starts Superset there with its chart cache off (TRACKTRACKER_SUPERSET_CACHE=off: this measures
the warehouse and Superset's own work, not the cache), provisions it, and
1. requests every chart's data as listeners (RLS on) `--rounds` times, round-robin over listeners,
   one request at a time: p50 / p95 per chart (target: p95 <= 500 ms for every chart);
2. lets `--concurrent` listeners load the whole Listening history dashboard at the same time, as a
   browser does (all its chart-data requests, up to 6 in flight per listener): page-data time per
   listener, p50 / p95, and errors (target: none).
Writes bench/out/superset.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"

LOAD_CHILD = r"""
import json, sys, time
from pathlib import Path
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.exports.loader import load_source, make_durable
from tracktracker_assets.exports.sources import FileSource

jobs = json.loads(Path(sys.argv[1]).read_text())
conn = connect(get_settings().database_url)
started, rows = time.perf_counter(), 0
for user_id, files in jobs.items():
    for name in files:
        rows += load_source(conn, user_id, FileSource(Path(name)), durable=False).inserted
make_durable(conn)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def use_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # PostgreSQL runs as another user and must reach its data directory
    os.environ["TRACKTRACKER_HOME"] = str(home)
    # dbt's target/ and logs/ of the repository belong to the tests and the other tools running now
    os.environ["DBT_TARGET_PATH"] = str(home / "dbt-target")
    os.environ["DBT_LOG_PATH"] = str(home / "dbt-logs")


# ---- prepare ----------------------------------------------------------------------------------------
# The raw layers Superset never reads. Emptied before the rankings (which sort ~90M rows) so that a
# 10M-play warehouse fits a small disk; --keep-raw keeps them.
RAW_TABLES = (
    "bronze.spotify_extended_history",
    "silver.stg_spotify__extended_history",
    "silver.int_plays__deduplicated",
)
LATE_MODELS = ["rank_music+", "global_rank_weekly+"]


def prepare(args: argparse.Namespace, results: dict) -> None:
    """Resumable: each finished step is recorded in HOME/prepared.json."""
    from tracktracker_assets.services.local import open_registry, start_storage
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.synthetic import VINTAGES, generate_dataset
    from tracktracker_assets.transform.project import run_dbt
    from tracktracker_assets.users.accounts import mirror_users
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    state_file = settings.home / "prepared.json"
    prep = json.loads(state_file.read_text()) if state_file.exists() else {}
    results["prepare"] = prep

    def done(step: str, **figures: object) -> None:
        prep.update(figures, **{step: True})
        state_file.write_text(json.dumps(prep, indent=1))

    start_storage(settings)
    data = OUT / f"data-{args.plays}-{args.users}"
    if not prep.get("loaded"):
        if not (data / "manifest.json").exists():
            log(f"generating {args.plays:,} plays of {args.users} listeners into {data} ...")
            t = time.perf_counter()
            generate_dataset(data, args.users, args.plays, formats=tuple(VINTAGES))
            prep["generate_seconds"] = round(time.perf_counter() - t, 1)
        manifest = json.loads((data / "manifest.json").read_text())
        with open_registry(settings) as registry:
            for user in manifest["users"]:
                registry.upsert_user(user["user_id"], user["display_name"], user["tz"])
        mirror_users(settings)
        jobs = {u["user_id"]: [str(data / name) for name in u["files"]] for u in manifest["users"]}
        jobs_file = settings.home / "load-jobs.json"
        jobs_file.write_text(json.dumps(jobs))
        log("loading bronze ...")
        loaded = subprocess.run(
            [sys.executable, "-c", LOAD_CHILD, str(jobs_file)], capture_output=True, text=True, cwd=REPO
        )
        if loaded.returncode != 0:
            raise SystemExit(loaded.stderr[-3000:])
        load = json.loads(loaded.stdout.strip().splitlines()[-1])
        done("loaded", bronze_rows=load["rows"], bronze_load_seconds=round(load["seconds"], 1))
        log(f"bronze: {load['rows']:,} rows in {load['seconds']:.0f} s; deleting the JSON to save disk")
        for user_dir in data.iterdir():
            if user_dir.is_dir():
                shutil.rmtree(user_dir)
    if not prep.get("silver_gold"):
        log("dbt: silver and gold, all but the rankings ...")
        t = time.perf_counter()
        run_dbt(settings, ["run", "--exclude", *LATE_MODELS])
        done("silver_gold", dbt_silver_gold_seconds=round(time.perf_counter() - t, 1))
    if not prep.get("ranked"):
        if not args.keep_raw:
            conn = connect(settings.database_url)
            with conn.cursor() as cur:
                for table in RAW_TABLES:
                    cur.execute(f"truncate {table}")
            conn.commit()
            conn.close()
        log("dbt: the rankings ...")
        t = time.perf_counter()
        run_dbt(settings, ["run", "--select", *LATE_MODELS])
        done("ranked", dbt_rankings_seconds=round(time.perf_counter() - t, 1))
    log(f"prepared: {prep}")


# ---- measure ----------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, results: dict) -> None:
    from tracktracker_assets.dashboards import provision, service
    from tracktracker_assets.dashboards.client import SupersetClient
    from tracktracker_assets.dashboards.listeners import listener_password
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    conn = connect(settings.database_url)
    with conn.cursor() as cur:
        cur.execute("select count(*), count(distinct user_id) from gold.fct_plays")
        plays, users = cur.fetchone()
        # listeners spread over the range of history sizes: light, median and heavy ones
        cur.execute(
            "select user_id from gold.agg_daily_listening group by user_id order by sum(plays), user_id"
        )
        ordered = [row[0] for row in cur.fetchall()]
    conn.close()
    # listeners spread over the range of history sizes, the heaviest one included
    step = max(1, len(ordered) // args.concurrent)
    listeners = [*ordered[::step][: args.concurrent - 1], ordered[-1]]
    results["gold"] = {"plays": plays, "users": users, "listeners_measured": listeners}
    log(f"gold holds {plays:,} plays of {users} users; starting Superset ...")

    t = time.perf_counter()
    base_url = service.start(settings, extra_env={"TRACKTRACKER_SUPERSET_CACHE": "off"})
    results["superset_start_seconds"] = round(time.perf_counter() - t, 1)
    try:
        t = time.perf_counter()
        with open_registry(settings) as registry:
            accounts = [registry.require_user(user_id) for user_id in listeners]
        # accounts only for the measured listeners: each one costs a password hash in Superset
        provisioned = provision.provision(settings, users=accounts)
        results["provision_seconds"] = round(time.perf_counter() - t, 1)
        passwords = {u: listener_password(settings, u) for u in listeners}
        clients = {u: SupersetClient(base_url, u, passwords[u]) for u in listeners}
        admin = provision.admin_client(settings)
        contexts = {
            name: json.loads(admin.chart(chart_id)["query_context"])
            for name, chart_id in sorted(provisioned.charts.items())
        }

        # 1. each chart, one request at a time, as listeners in turn (warm-up round not counted)
        per_chart: dict[str, dict[str, float]] = {}
        for name, context in contexts.items():
            for user in listeners[:3]:
                clients[user].chart_data(context)
            times = []
            for i in range(args.rounds):
                client = clients[listeners[i % len(listeners)]]
                began = time.perf_counter()
                client.chart_data(context)
                times.append((time.perf_counter() - began) * 1000)
            per_chart[name] = {
                "p50_ms": round(percentile(times, 50)),
                "p95_ms": round(percentile(times, 95)),
                "max_ms": round(max(times)),
            }
            log(f"{name:<45} p50 {per_chart[name]['p50_ms']:>5} ms  p95 {per_chart[name]['p95_ms']:>5} ms")
        results["charts"] = per_chart
        results["charts_over_500ms_p95"] = sorted(n for n, v in per_chart.items() if v["p95_ms"] > 500)

        # 2. every listener opens Listening history at once
        dashboard_id = provisioned.dashboards["Listening history"]
        page_charts = [
            c["slice_name"] for c in admin.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
        ]
        errors: list[str] = []

        def load_page(user: str) -> float:
            client = SupersetClient(base_url, user, passwords[user])
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=6) as browser:  # a browser's connections per host
                for outcome in browser.map(lambda n: _safe(client, contexts[n], n), page_charts):
                    if outcome:
                        errors.append(f"{user}: {outcome}")
            return time.perf_counter() - began

        with ThreadPoolExecutor(max_workers=len(listeners)) as crowd:
            pages = list(crowd.map(load_page, listeners))
        results["concurrent"] = {
            "listeners": len(listeners),
            "charts_per_page": len(page_charts),
            "page_data_p50_s": round(percentile(pages, 50), 2),
            "page_data_p95_s": round(percentile(pages, 95), 2),
            "page_data_max_s": round(max(pages), 2),
            "errors": errors,
        }
        results["superset_workers"] = int(os.environ.get("TRACKTRACKER_SUPERSET_WORKERS", "1"))
    finally:
        service.stop(settings)


def _safe(client, context: dict, name: str) -> str | None:
    try:
        for result in client.chart_data(context):
            if result.get("status") != "success":
                return f"{name}: {result.get('status')} {result.get('error')}"
    except Exception as exc:  # reported, not raised: the point is to count them
        return f"{name}: {exc}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stages", nargs="*", default=["prepare", "measure"], choices=["prepare", "measure"])
    parser.add_argument("--plays", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--home", type=Path, default=OUT / "superset-home")
    parser.add_argument("--rounds", type=int, default=40, help="requests per chart (default 40)")
    parser.add_argument("--concurrent", type=int, default=20, help="listeners at once (default 20)")
    parser.add_argument("--keep-raw", action="store_true", help="keep bronze/silver rows (needs ~2x disk)")
    args = parser.parse_args()
    use_home(args.home.resolve())
    from tracktracker_assets.services.local import stop_storage
    from tracktracker_assets.settings import get_settings

    results: dict[str, object] = {}
    try:
        prepare(args, results)
        if "measure" in args.stages:
            measure(args, results)
    finally:
        stop_storage(get_settings())
    OUT.mkdir(parents=True, exist_ok=True)
    if "measure" in args.stages:
        (OUT / "superset.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
