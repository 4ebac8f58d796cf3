"""Foundation benchmark: bronze load vs the raw COPY floor, load memory, full and incremental dbt builds.

    .venv/bin/python bench/bench_foundation.py [--plays 1000000] [--users 50] [--data DIR]

Runs against a scratch embedded PostgreSQL with the same (durable) settings as local mode. Prints a
table and writes bench/out/foundation.json. Targets (issue: foundation): bronze load <= 1.5x the raw
COPY of the same rows; peak RSS of the load <= 300 MB whatever the file size; incremental refresh
after 50 new plays <= 10% of the full build.
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

from tracktracker_assets.synthetic import VINTAGES, generate_dataset  # noqa: E402

OUT = REPO / "bench" / "out"

LOAD_CHILD = r"""
import json, sys, time
from pathlib import Path
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.exports.loader import load_source, make_durable
from tracktracker_assets.exports.sources import FileSource

jobs = json.loads(sys.argv[1])
conn = connect(get_settings().database_url)
started, rows = time.perf_counter(), 0
for user_id, files in jobs.items():
    for name in files:
        rows += load_source(conn, user_id, FileSource(Path(name)), durable=False).inserted
make_durable(conn)  # as the inbox does: one flush for the run, then files leave the inbox
seconds = time.perf_counter() - started
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": hwm / 1024}))
"""


def child(code: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=os.environ.copy()
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def slowest_nodes(count: int = 6) -> dict[str, float]:
    """dbt's own elapsed time and its slowest nodes in the last run (from run_results.json)."""
    from tracktracker_assets.settings import Settings

    run = json.loads((Settings.from_env().dbt_target_dir / "run_results.json").read_text())
    nodes = sorted(run["results"], key=lambda r: r["execution_time"], reverse=True)[:count]
    return {"dbt_elapsed": round(run["elapsed_time"], 2)} | {
        n["unique_id"].split(".")[-1]: round(n["execution_time"], 2) for n in nodes
    }


def files_by_user(data: Path) -> dict[str, list[str]]:
    return {d.name: sorted(str(p) for p in d.rglob("*.json")) for d in sorted(data.iterdir()) if d.is_dir()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--data", type=Path, help="reuse generated data from this folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch warehouse (to investigate)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tt-bench-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    from tracktracker_assets.exports.formats import EXTENDED
    from tracktracker_assets.exports.jsonarray import ArrayReader
    from tracktracker_assets.exports.loader import COPY_OPTIONS, _CsvPipe, copy_columns, spotify_batches
    from tracktracker_assets.services.local import open_registry, start_storage, stop_storage
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.transform.project import ensure_manifest, run_dbt
    from tracktracker_assets.transform.views import EXCLUDE_STATIC
    from tracktracker_assets.users.accounts import mirror_users
    from tracktracker_assets.warehouse.db import connect
    from tracktracker_assets.warehouse.maintenance import vacuum_after_bulk_writes

    settings = get_settings()
    results: dict[str, object] = {"plays": args.plays, "users": args.users}
    start_storage(settings)
    try:
        data = args.data or OUT / f"data-{args.plays}-{args.users}"
        if not (data / "manifest.json").exists():
            t = time.perf_counter()
            summary = generate_dataset(data, args.users, args.plays, formats=tuple(VINTAGES))
            results["generate_seconds"] = round(time.perf_counter() - t, 1)
            results["generate_peak_rss_mb"] = summary.peak_rss_mb
        jobs = files_by_user(data)
        total_bytes = sum(Path(f).stat().st_size for fs in jobs.values() for f in fs)
        results["json_mb"] = round(total_bytes / 2**20)
        results["files"] = sum(len(fs) for fs in jobs.values())
        with open_registry(settings) as registry:
            for user_id in jobs:
                registry.upsert_user(user_id, timezone="Europe/Berlin")
        mirror_users(settings)

        # 1. bronze load (the product's loader, in a lean child process so its RSS is its own)
        load = child(LOAD_CHILD, json.dumps(jobs))
        results["bronze_load_seconds"] = round(load["seconds"], 2)
        results["bronze_rows"] = load["rows"]
        results["bronze_load_peak_rss_mb"] = round(load["peak_rss_mb"], 1)

        # 2. the floor: COPY of exactly those rows, already as CSV, into an identical table
        csv_path = home / "rows.csv"
        with open(csv_path, "wb") as out:
            for user_id, files in jobs.items():
                for name in files:
                    with open(name, "rb") as stream:
                        reader = ArrayReader(stream, name, EXTENDED)
                        pipe = _CsvPipe(spotify_batches(reader, (user_id, 0), EXTENDED, None))
                        pipe.start()
                        while chunk := pipe.read(1 << 20):
                            out.write(chunk)
                        pipe.close()
        conn = connect(settings.database_url)
        with conn.cursor() as cur:
            cur.execute("create table public.copy_floor (like bronze.spotify_extended_history including all)")
        conn.commit()
        columns = copy_columns(EXTENDED)
        t = time.perf_counter()
        with open(csv_path, "rb") as stream, conn.cursor() as cur:
            cur.copy_expert(
                f"copy public.copy_floor ({columns}) from stdin with {COPY_OPTIONS}", stream, size=1 << 20
            )
        conn.commit()
        results["raw_copy_seconds"] = round(time.perf_counter() - t, 2)
        results["load_vs_copy"] = round(results["bronze_load_seconds"] / results["raw_copy_seconds"], 2)
        with conn.cursor() as cur:
            cur.execute("drop table public.copy_floor")
        conn.commit()
        csv_path.unlink()

        # 3. full dbt build (models + data tests), then an incremental one after 50 new plays
        ensure_manifest(settings)
        t = time.perf_counter()
        run_dbt(settings, ["build", "--exclude", "test_type:unit"])
        results["dbt_full_build_seconds"] = round(time.perf_counter() - t, 1)
        # the refresh job vacuums and analyzes what a large build wrote (warehouse/maintenance.py), so
        # the next refresh does not run alongside autovacuum; the ratio below is to dbt's build alone
        t = time.perf_counter()
        vacuumed = vacuum_after_bulk_writes(settings)
        results["vacuum_after_full_build_seconds"] = round(time.perf_counter() - t, 1)
        results["vacuumed_tables"] = len(vacuumed)
        first_user = next(iter(jobs))
        sample = json.loads(Path(jobs[first_user][0]).read_text())[:50]
        new_file = home / "Streaming_History_Audio_2027.json"
        new_file.write_text(
            json.dumps(
                [dict(r, ts=f"2027-01-{1 + i // 24:02d}T{i % 24:02d}:30:00Z") for i, r in enumerate(sample)]
            )
        )
        child(LOAD_CHILD, json.dumps({first_user: [str(new_file)]}))
        # the refresh selection of the product (transform/assets.py): views and static tables are built
        refresh = ["build", "--exclude", f"test_type:unit {EXCLUDE_STATIC}"]
        t = time.perf_counter()
        run_dbt(settings, refresh)
        results["dbt_incremental_50_plays_seconds"] = round(time.perf_counter() - t, 1)
        results["dbt_incremental_slowest_nodes"] = slowest_nodes()
        results["incremental_vs_full"] = round(
            results["dbt_incremental_50_plays_seconds"] / results["dbt_full_build_seconds"], 3
        )
        t = time.perf_counter()
        run_dbt(settings, refresh)
        results["dbt_noop_build_seconds"] = round(time.perf_counter() - t, 1)

        # 4. the same 50-play refresh through the product path: the Dagster refresh job
        second = home / "Streaming_History_Audio_2028.json"
        second.write_text(new_file.read_text().replace('"2027-', '"2028-'))
        child(LOAD_CHILD, json.dumps({first_user: [str(second)]}))
        from tracktracker_assets.orchestration.runs import run_refresh

        t = time.perf_counter()
        outcome = run_refresh(settings)
        results["dagster_refresh_50_plays_cold_seconds"] = round(time.perf_counter() - t, 1)
        third = home / "Streaming_History_Audio_2029.json"
        third.write_text(new_file.read_text().replace('"2027-', '"2029-'))
        child(LOAD_CHILD, json.dumps({first_user: [str(third)]}))
        t = time.perf_counter()
        outcome_warm = run_refresh(settings)
        results["dagster_refresh_50_plays_warm_seconds"] = round(time.perf_counter() - t, 1)
        results["dagster_refresh_ok"] = outcome.success and outcome_warm.success

        # 5. memory whatever the file size: every play of every user in ONE JSON array
        big = home / "one_big_export.json"
        with open(big, "wb") as out:
            out.write(b"[")
            first = True
            for files in jobs.values():
                for name in files:
                    body = Path(name).read_bytes().strip()[1:-1].strip()
                    if body:
                        out.write(body if first else b", " + body)
                        first = False
            out.write(b"]")
        results["single_file_mb"] = round(big.stat().st_size / 2**20)
        single = child(LOAD_CHILD, json.dumps({"bench-single-file": [str(big)]}))
        results["single_file_load_seconds"] = round(single["seconds"], 2)
        results["single_file_peak_rss_mb"] = round(single["peak_rss_mb"], 1)
        big.unlink()
    finally:
        stop_storage(settings)
    if args.keep:
        print(f"kept: TRACKTRACKER_HOME={home}")
    else:
        shutil.rmtree(home, ignore_errors=True)  # a scratch warehouse of several GB
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "foundation.json").write_text(json.dumps(results, indent=2))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
