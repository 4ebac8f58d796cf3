"""The dedupe's select at two revisions, alternately, on one 1M + 1M home: a diagnosis for cuts too
small for bench_platforms.py's builds to show.

    .venv/bin/python bench/ab_dedupe.py BASE [NEW] [--rounds 6] [--rows 1000000] [--home DIR]

BASE and NEW are git revisions (NEW: this working tree when left out). The home holds --rows Spotify
plays and the same plays as Last.fm scrobbles (bench_platforms.py's), loaded and built once; with
--home it is kept (stopped) for the next comparison, which then skips those minutes and keeps the
--rows it was prepared with (written in its ab_dedupe_prepared; a preparation cut short is made
again). Each revision's int_plays__deduplicated is compiled with --full-refresh, and both selects
must give the same rows (EXCEPT ALL, both ways) before any is timed. `dbt compile` builds none of the
int_plays__match_* models, so from 87c9312 on the select compiled is the dedupe's inline path (its
candidate pairs computed inside it, as an incremental run does), not the one a whole build runs
after storing them. Then each round runs BASE and NEW, in that order, each select written into an
unlogged temporary table, and prints the seconds of each, their medians and each round's difference
(NEW - BASE). This 2-core VM runs one statement 20-30% slower or faster from minute to minute: a
round's two runs are seconds apart, so their difference is what to read.

The figure of record stays bench_platforms.py --part dedupe (whole builds, as dbt runs them); this
times the dedupe's select alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
USER = "bench-both"
COMPILED = "compiled/tracktracker/models/intermediate/int_plays__deduplicated.sql"

# run with a checkout's own code (its dbt project beside it), in the home TRACKTRACKER_HOME names
COMPILE_CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tracktracker_assets.settings import get_settings
from tracktracker_assets.transform.project import run_dbt
settings = get_settings()
run_dbt(settings, ["compile", "--select", "int_plays__deduplicated", "--full-refresh"])
print(settings.dbt_target_dir / sys.argv[2])
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="a git revision")
    parser.add_argument("new", nargs="?", help="a git revision (default: this working tree)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="a home to keep between comparisons (made when absent)")
    args = parser.parse_args()

    home = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="tt-bench-ab-"))
    # written once the home holds its plays and a build: a preparation cut short is made again
    prepared = home / "ab_dedupe_prepared"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    from tracktracker_assets.services.local import start_storage, stop_storage
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    start_storage(settings)
    try:
        if not prepared.exists():
            prepare(settings, home, args.rows)
            prepared.write_text(f"{args.rows} rows\n")
        selects = {
            label: compiled_select(home, rev) for label, rev in (("base", args.base), ("new", args.new))
        }
        conn = connect(settings.database_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            check_same_rows(cur, selects)
            seconds: dict[str, list[float]] = {"base": [], "new": []}
            for round_ in range(1, args.rounds + 1):
                for label, select in selects.items():
                    started = time.perf_counter()
                    cur.execute(f"create temp table ab_rows as {select}")
                    seconds[label].append(round(time.perf_counter() - started, 2))
                    cur.execute("drop table ab_rows")
                print(f"round {round_}: base {seconds['base'][-1]} s, new {seconds['new'][-1]} s", flush=True)
        conn.close()
    finally:
        stop_storage(settings)
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    differences = [round(n - b, 2) for b, n in zip(seconds["base"], seconds["new"], strict=True)]
    for label, rev in (("base", args.base), ("new", args.new or "working tree")):
        print(f"{label} ({rev}): median {statistics.median(seconds[label])} s of {seconds[label]}")
    print(f"each round, new - base: {differences}, median {statistics.median(differences)} s")


def prepare(settings, home: Path, rows: int) -> None:
    """One listener's Spotify plays and the same plays as scrobbles, loaded and built once."""
    import bench_platforms as platforms

    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.transform.project import ensure_manifest, run_dbt
    from tracktracker_assets.users.accounts import mirror_users

    with open_registry(settings) as registry:
        registry.upsert_user(USER, timezone="UTC")
    mirror_users(settings)
    plays = platforms.spotify_plays(rows, datetime(2014, 1, 1, tzinfo=UTC))
    spotify, scrobbles = home / "endsong_0.json", home / "scrobbles.csv"
    platforms.write_spotify(spotify, plays)
    platforms.write_ghan(scrobbles, plays)
    for path in (spotify, scrobbles):
        platforms.child(platforms.LOAD_CHILD, USER, str(path))
    ensure_manifest(settings)
    run_dbt(settings, ["build", "--exclude", "test_type:unit", "--full-refresh"])


def compiled_select(home: Path, rev: str | None) -> str:
    """The dedupe's select as a full build of `rev` (None: this working tree) compiles it."""
    checkout = REPO
    worktree = None
    if rev:
        worktree = Path(tempfile.mkdtemp(prefix="tt-ab-rev-"))
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), rev], check=True
        )
        checkout = worktree
    try:
        result = subprocess.run(
            [sys.executable, "-c", COMPILE_CHILD, str(checkout), COMPILED],
            capture_output=True,
            text=True,
            cwd=checkout,
            env={**os.environ, "TRACKTRACKER_HOME": str(home)},
        )
        if result.returncode != 0:
            raise SystemExit(f"compiling {rev or 'the working tree'} failed:\n{result.stderr[-3000:]}")
        return Path(result.stdout.strip().splitlines()[-1]).read_text()
    finally:
        if worktree:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)], check=True
            )


def check_same_rows(cur, selects: dict[str, str]) -> None:
    """Both selects' rows, compared as multisets; a cut that changes the output is no cut."""
    for label, select in selects.items():
        cur.execute(f"create temp table ab_{label} as {select}")
    cur.execute("select count(*) from (select * from ab_base except all select * from ab_new) as x")
    only_base = cur.fetchone()[0]
    cur.execute("select count(*) from (select * from ab_new except all select * from ab_base) as x")
    only_new = cur.fetchone()[0]
    cur.execute("drop table ab_base, ab_new")
    if only_base or only_new:
        raise SystemExit(f"the selects differ: {only_base} rows only in base, {only_new} only in new")


if __name__ == "__main__":
    main()
