"""Scale-out benchmark (TRACKTRACKER_EXECUTOR=celery): a pull tick over 1,000 connected listeners (fake
Spotify at 100 ms per request, in a process of its own) and an import batch of 200 listeners' export
files, each on 1 Celery worker and then on 2, in one run. End to end as the operator's daemon runs them:
the schedule (or the inbox sensor) is evaluated, its run requests are launched side by side (one
process per run, as the run launcher does) and the clock stops when every run has finished. Each
measurement uses listeners of its own, so each does the same work.

    nice -n 19 .venv/bin/python bench/bench_scale.py [--users 1000] [--listeners 200] [--plays 500]

Needs Debian's redis-server. Prints a table and writes bench/out/scale.json.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"


def export_rows(plays: int, seed: int) -> list[dict[str, object]]:
    """One listener's extended streaming history: `plays` distinct plays, five minutes apart."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seed)
    return [
        {
            "ts": (start + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ms_played": 180_000,
            "platform": "android",
            "conn_country": "DE",
            "master_metadata_track_name": f"Track {n % 997}",
            "master_metadata_album_artist_name": f"Artist {n % 101}",
            "master_metadata_album_album_name": f"Album {n % 211}",
            "spotify_track_uri": f"spotify:track:{(n % 997):022d}",
        }
        for n in range(plays)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--plays", type=int, default=500)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tt-bench-scale-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    os.environ["TRACKTRACKER_EXECUTOR"] = "celery"
    results: dict[str, object] = {
        "users": args.users,
        "latency_s": args.latency,
        "import_listeners": args.listeners,
        "plays_per_export": args.plays,
    }
    state_dir = home / "fake"
    # two disjoint sets of accounts: one per measurement
    fake = subprocess.Popen(
        [
            *(sys.executable, str(REPO / "bench" / "fake_spotify_process.py")),
            *("--users", str(2 * args.users), "--latency", str(args.latency)),
            *("--tracks", "10", "--state", str(state_dir)),
        ]
    )
    from tests.celery_stack import RedisServer, Workers, execute_runs

    try:
        while not (state_dir / "state.json").exists():
            if fake.poll() is not None:
                raise SystemExit("the fake Spotify process died")
            time.sleep(0.2)
        state = json.loads((state_dir / "state.json").read_text())
        os.environ.update(
            {
                "TRACKTRACKER_SPOTIFY_CLIENT_ID": state["client_id"],
                "TRACKTRACKER_SPOTIFY_CLIENT_SECRET": state["client_secret"],
                "TRACKTRACKER_SPOTIFY_API_URL": state["api_base"],
                "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL": state["base_url"].rstrip("/"),
            }
        )
        with RedisServer(home / "redis") as redis_server:
            os.environ["TRACKTRACKER_CELERY_BROKER_URL"] = redis_server.url
            run_all(args, home, state, results, Workers, execute_runs)
    finally:
        fake.terminate()
        fake.wait(30)
    shutil.rmtree(home, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(results, indent=2, default=str))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


def run_all(args, home: Path, state: dict, results: dict, Workers, execute_runs) -> None:
    from dagster import DagsterRunStatus, build_schedule_context, build_sensor_context

    from tracktracker_assets.definitions import load
    from tracktracker_assets.exports.inbox import drop_into_inbox
    from tracktracker_assets.exports.sensors import inbox_sensor
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.partitions import ensure_partitions
    from tracktracker_assets.orchestration.resources import RegistryResource
    from tracktracker_assets.services.local import open_registry, start_storage, stop_storage
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.spotify.client import SCOPE
    from tracktracker_assets.warehouse.db import query

    settings = get_settings()
    start_storage(settings)
    try:
        instance = get_instance(settings)
        definitions = load()  # once, as a code server does: not part of a tick
        schedule = definitions.get_schedule_def("recently_played_schedule")
        accounts = sorted(state["accounts"].items())
        exports = home / "exports"
        exports.mkdir()
        for workers_count in (1, 2):
            workers = Workers(home / f"workers-{workers_count}", {})
            workers.start(*(f"w{i + 1}-of-{workers_count}@bench" for i in range(workers_count)))
            try:
                # 1. the pull tick: this measurement's listeners are the only active ones
                users = []
                with open_registry(settings) as registry:
                    for user in registry.connected_users():
                        registry.set_status(user.user_id, "disabled")
                    first = (workers_count - 1) * args.users
                    for i, (account, refresh_token) in enumerate(accounts[first : first + args.users]):
                        user_id = f"pull{workers_count}-{i:04d}"
                        token = {
                            "access_token": "none",
                            "token_type": "Bearer",
                            "expires_in": 0,
                            "expires_at": 0,
                            "refresh_token": refresh_token,
                            "scope": SCOPE,
                        }
                        registry.upsert_user(user_id, timezone="Europe/Berlin")
                        registry.save_token(user_id, token, spotify_user_id=account)
                        users.append(user_id)
                ensure_partitions(instance, users)
                t = time.perf_counter()
                context = build_schedule_context(
                    instance=instance,
                    resources={"registry": RegistryResource()},
                    scheduled_execution_time=datetime.now(UTC),
                )
                requests = schedule.evaluate_tick(context).run_requests or []
                runs = execute_runs(instance, "pull_recently_played", [r.tags for r in requests])
                key = f"pull_tick_{workers_count}_worker{'s' if workers_count > 1 else ''}"
                results[f"{key}_seconds"] = round(time.perf_counter() - t, 1)
                results[f"{key}_runs"] = len(runs)
                results[f"{key}_ok"] = all(r.status == DagsterRunStatus.SUCCESS for r in runs)
                results[f"{key}_plays_stored"] = query(
                    settings.database_url,
                    "select count(*) from bronze.spotify_recently_played where user_id like %s",
                    (f"pull{workers_count}-%",),
                )[1][0][0]

                # 2. the import batch: this measurement's listeners, one export file each
                listeners = [f"import{workers_count}-{i:03d}" for i in range(args.listeners)]
                with open_registry(settings) as registry:
                    for user_id in listeners:
                        registry.upsert_user(user_id, timezone="UTC")
                ensure_partitions(instance, listeners)
                for n, user_id in enumerate(listeners):
                    path = exports / f"{user_id}" / "Streaming_History_Audio_2024.json"
                    path.parent.mkdir()
                    path.write_text(json.dumps(export_rows(args.plays, n)))
                    drop_into_inbox(settings, user_id, path)
                time.sleep(settings.inbox_settle_s + 0.5)
                t = time.perf_counter()
                requested = inbox_sensor(build_sensor_context(instance=instance))
                requested = requested if isinstance(requested, list) else [requested]
                runs = execute_runs(instance, "import_exports", [r.tags for r in requested])
                key = f"import_batch_{workers_count}_worker{'s' if workers_count > 1 else ''}"
                results[f"{key}_seconds"] = round(time.perf_counter() - t, 1)
                results[f"{key}_runs"] = len(runs)
                results[f"{key}_ok"] = all(r.status == DagsterRunStatus.SUCCESS for r in runs)
                results[f"{key}_plays_stored"] = query(
                    settings.database_url,
                    "select count(*) from bronze.spotify_extended_history where user_id like %s",
                    (f"import{workers_count}-%",),
                )[1][0][0]
                print(json.dumps(results), flush=True)  # so far, in case a later part fails
            finally:
                workers.stop()
    finally:
        stop_storage(settings)


if __name__ == "__main__":
    main()
