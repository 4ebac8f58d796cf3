"""Spotify benchmark: one scheduled pull tick for 1,000 connected users against the fake Web API with
100 ms latency per request (target: one Dagster run, <= 60 s), and catalog enrichment of 10,000 unknown
tracks (requests per second, and that a request budget holds).

    .venv/bin/python bench/bench_spotify.py [--users 1000] [--latency 0.1] [--tracks 10000]

Prints a table and writes bench/out/spotify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tt-bench-spotify-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    import subprocess

    import requests

    from tracktracker_assets.spotify.client import SCOPE

    results: dict[str, object] = {"users": args.users, "latency_s": args.latency}
    state_dir = home / "fake"
    fake = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "fake_spotify_process.py"),
            "--users",
            str(args.users),
            "--latency",
            str(args.latency),
            "--tracks",
            str(args.tracks),
            "--state",
            str(state_dir),
        ],
    )
    try:
        while not (state_dir / "state.json").exists():
            if fake.poll() is not None:
                raise SystemExit("the fake Spotify process died")
            time.sleep(0.2)
        state = json.loads((state_dir / "state.json").read_text())

        def spotify_counts() -> dict[str, int]:
            return requests.get(state["stats_url"], timeout=10).json()

        os.environ.update(
            {
                "TRACKTRACKER_SPOTIFY_CLIENT_ID": state["client_id"],
                "TRACKTRACKER_SPOTIFY_CLIENT_SECRET": state["client_secret"],
                "TRACKTRACKER_SPOTIFY_API_URL": state["api_base"],
                "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL": state["base_url"].rstrip("/"),
            }
        )
        from rich.console import Console

        from tracktracker_assets.exports.inbox import drop_into_inbox
        from tracktracker_assets.orchestration.instance import get_instance
        from tracktracker_assets.orchestration.pipeline import load_and_refresh
        from tracktracker_assets.orchestration.runs import _definitions, run_enrich, run_pull
        from tracktracker_assets.services.local import open_registry, start_storage, stop_storage
        from tracktracker_assets.settings import get_settings
        from tracktracker_assets.users.accounts import mirror_users
        from tracktracker_assets.warehouse.db import query

        settings = get_settings()
        start_storage(settings)
        try:
            # 1. a thousand connected listeners, each with 20 plays waiting at Spotify
            with open_registry(settings) as registry:
                for i, (account, refresh_token) in enumerate(sorted(state["accounts"].items())):
                    user_id = f"listener-{i:04d}"
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
            mirror_users(settings)
            _definitions()  # loaded once per process, as in a code server: not part of a tick
            runs_before = len(get_instance(settings).get_run_records())
            counts_before = spotify_counts()
            t = time.perf_counter()
            outcome = run_pull(settings)
            results["pull_tick_seconds"] = round(time.perf_counter() - t, 1)
            results["pull_runs"] = len(get_instance(settings).get_run_records()) - runs_before
            statuses: dict[str, int] = {}
            for line in outcome.pull_lines:
                status = line.split(": ", 1)[1].split(",")[0]
                statuses[status] = statuses.get(status, 0) + 1
            results["pull_outcomes"] = statuses
            results["plays_stored"] = query(
                settings.database_url, "select count(*) from bronze.spotify_recently_played"
            )[1][0][0]
            after = spotify_counts()
            results["spotify_requests_for_tick"] = after["total"] - counts_before["total"]
            # a second tick an hour of tokens later: access tokens are valid, nothing new to store
            t = time.perf_counter()
            run_pull(settings)
            results["pull_second_tick_seconds"] = round(time.perf_counter() - t, 1)

            # 2. ten thousand tracks the catalog does not know yet, seen in an export
            now = datetime.now(UTC)
            rows = [
                {
                    "ts": (now - timedelta(minutes=5 * n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ms_played": 60_000,
                    "platform": "android",
                    "conn_country": "DE",
                    "master_metadata_track_name": f"{t['name']} #{n}",
                    "master_metadata_album_artist_name": t["artist"],
                    "master_metadata_album_album_name": t["album"],
                    "spotify_track_uri": t["uri"],
                }
                for n, t in enumerate(state["tracks"])
            ]
            export = home / "Streaming_History_Audio_2026.json"
            export.write_text(json.dumps(rows))
            with open_registry(settings) as registry:
                registry.upsert_user("catalog-bench", timezone="UTC")
            mirror_users(settings)
            drop_into_inbox(settings, "catalog-bench", export)
            load_and_refresh(settings, Console(quiet=True), ["catalog-bench"])
            os.environ["TRACKTRACKER_ENRICH_BUDGET"] = str(args.budget)
            before = spotify_counts()["catalog"]
            t = time.perf_counter()
            run = run_enrich(get_settings())
            seconds = time.perf_counter() - t
            seen = spotify_counts()["catalog"] - before
            results["enrich_budget"] = args.budget
            results["enrich_requests"] = run.enrich.get("requests")
            results["enrich_requests_seen_by_spotify"] = seen
            results["enrich_budget_respected"] = seen <= args.budget
            results["enrich_run_seconds"] = round(seconds, 1)
            results["enrich_requests_per_second"] = run.enrich.get("requests_per_second")
            os.environ["TRACKTRACKER_ENRICH_BUDGET"] = "1000000"
            t = time.perf_counter()
            while run_enrich(get_settings()).enrich.get("requests"):
                pass
            results["enrich_all_remaining_seconds"] = round(time.perf_counter() - t, 1)
            results["catalog_rows"] = query(
                settings.database_url, "select kind, count(*) from bronze.spotify_catalog group by 1"
            )[1]
        finally:
            stop_storage(settings)
    finally:
        fake.terminate()
        fake.wait(30)
    shutil.rmtree(home, ignore_errors=True)  # a scratch warehouse of several GB
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "spotify.json").write_text(json.dumps(results, indent=2, default=str))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
