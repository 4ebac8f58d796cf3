"""The commands people type, end to end, each beside its floor (issue: fast where a person waits).

    .venv/bin/python bench/bench_commands.py [--first 20000] [--new 50] [--zip-plays 200000]

In a scratch TRACKTRACKER_HOME with the storage services up (`tracktracker up --no-demo --no-ui`:
PostgreSQL and the registry; Dagster's webserver, daemon and Superset are not running), each command
runs as a person runs it (`.venv/bin/tracktracker ...`, a new process) and is timed from start to
exit. Floors, in the same run: a raw COPY of the same rows into a copy of the bronze table (what
loading them costs at least), and `python -c pass` (what starting any command costs at least).

Goals (the issue's table): import of a 20,000-play export <= 6 s; import of 50 new plays <= 3 s; an
import of a file already loaded <= 1.5 s; `users add` <= 1 s; ten years (200,000 plays, Spotify's ZIP)
to refreshed gold <= 15 s. Then that ten-year listener's daily imports of 50 new plays (no goal of the
issue's: what a long history adds to the 50-play import), and with --big N the same for a listener
of N plays, with --big-scrobbles N for a Last.fm listener of N scrobbles (lastfm.ghan.nl CSV files).
With --fold-scrobbles N, a listener of N Spotify plays imports the same plays as Last.fm scrobbles:
every one of them a duplicate to fold into its play (each play once).
Writes bench/out/commands.json and prints a table.
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
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
OUT = REPO / "bench" / "out"
TRACKTRACKER = REPO / ".venv" / "bin" / "tracktracker"


def command(*args: str) -> float:
    """Seconds from start to exit of `tracktracker ARGS` (it must succeed)."""
    started = time.perf_counter()
    result = subprocess.run([str(TRACKTRACKER), *args], capture_output=True, text=True, env=os.environ.copy())
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        what = f"tracktracker {' '.join(args)} failed"
        raise SystemExit(f"{what}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return seconds


def copy_floor(settings, path: Path) -> float:
    """A raw COPY of the rows the loader makes of a Spotify file, into a copy of its bronze table."""
    from bench_platforms import child

    code = r"""
import io, json, sys, time
from pathlib import Path
from tracktracker_assets.exports.formats import EXTENDED
from tracktracker_assets.exports.jsonarray import ArrayReader
from tracktracker_assets.exports.loader import COPY_OPTIONS, _CsvPipe, copy_columns, spotify_batches
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import connect

path = Path(sys.argv[1])
buffer = io.BytesIO()
with open(path, "rb") as stream:
    pipe = _CsvPipe(spotify_batches(ArrayReader(stream, path.name, EXTENDED), ("floor", 0), EXTENDED, None))
    pipe.start()
    while chunk := pipe.read(1 << 20):
        buffer.write(chunk)
    pipe.close()
conn = connect(get_settings().database_url)
with conn.cursor() as cur:
    cur.execute("create table public.copy_floor (like bronze.spotify_extended_history including all)")
conn.commit()
buffer.seek(0)
started = time.perf_counter()
with conn.cursor() as cur:
    columns = copy_columns(EXTENDED)
    cur.copy_expert(f"copy public.copy_floor ({columns}) from stdin with {COPY_OPTIONS}", buffer)
conn.commit()
seconds = time.perf_counter() - started
with conn.cursor() as cur:
    cur.execute("drop table public.copy_floor")
conn.commit()
print(json.dumps({"seconds": seconds}))
"""
    return child(code, str(path))["seconds"]


def daily_imports(user_id: str, files: Path, days: int, plays: int, scrobbles: bool = False) -> list[float]:
    """Seconds of `days` imports of `plays` new plays each for the listener, a file a day (Spotify's,
    or Last.fm scrobbles): a refresh should cost what the new plays reach, not the listener's history."""
    from bench_platforms import spotify_plays, write_ghan, write_spotify

    seconds = []
    (files / user_id).mkdir(exist_ok=True)
    for day in range(days):
        new = spotify_plays(plays, datetime(2026, 11, 20 + day, tzinfo=UTC))
        if scrobbles:
            path = files / user_id / f"scrobbles_2026_{day + 1}.csv"
            write_ghan(path, new)
        else:
            path = files / user_id / f"Streaming_History_Audio_2026_{day + 1}.json"
            write_spotify(path, new)
        seconds.append(round(command("import", user_id, str(path)), 2))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--first", type=int, default=20_000, help="plays of the first import")
    parser.add_argument("--new", type=int, default=50, help="plays of the next import")
    parser.add_argument("--zip-plays", type=int, default=200_000, help="plays of the ten-year ZIP (0: skip)")
    parser.add_argument("--daily", type=int, default=3, help="imports of new plays into the ten years")
    parser.add_argument("--big", type=int, default=0, help="plays of a heavy listener's history (0: skip)")
    parser.add_argument(
        "--big-scrobbles", type=int, default=0, help="scrobbles of a Last.fm listener (0: skip)"
    )
    parser.add_argument(
        "--fold-scrobbles",
        type=int,
        default=0,
        help="plays of a listener who then imports the same plays as Last.fm scrobbles (0: skip)",
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tt-bench-commands-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    from bench_platforms import spotify_plays, write_spotify

    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.synthetic import generate_dataset

    settings = get_settings()
    files = home / "files"
    files.mkdir()
    plays = spotify_plays(args.first + args.new, datetime(2016, 1, 1, tzinfo=UTC))
    first, new = files / "Streaming_History_Audio_2016_0.json", files / "Streaming_History_Audio_2017_0.json"
    write_spotify(first, plays[: args.first])
    write_spotify(new, plays[args.first :])
    results: dict[str, object] = {}
    try:
        results["up_storage_only_s"] = round(command("up", "--no-demo", "--no-ui"), 2)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        results["floor_python_start_s"] = round(time.perf_counter() - started, 3)
        results["help_s"] = round(command("--help"), 2)
        results["users_add_s"] = round(command("users", "add", "ana", "--timezone", "Europe/Berlin"), 2)
        results[f"import_first_{args.first}_s"] = round(command("import", "ana", str(first)), 2)
        results[f"floor_copy_{args.first}_s"] = round(copy_floor(settings, first), 3)
        results[f"import_new_{args.new}_s"] = round(command("import", "ana", str(new)), 2)
        results[f"floor_copy_{args.new}_s"] = round(copy_floor(settings, new), 3)
        results["import_already_loaded_s"] = round(command("import", "ana", str(new)), 2)
        if args.zip_plays:
            generate_dataset(home / "zip", 1, args.zip_plays, formats=["current"], as_zip=True)
            [archive] = (home / "zip").rglob("*.zip")
            command("users", "add", "ten-years")
            results[f"import_zip_{args.zip_plays}_s"] = round(command("import", "ten-years", str(archive)), 2)
            # then that listener's daily import: new plays into a history of ten years
            daily = daily_imports("ten-years", files, args.daily, args.new)
            results[f"import_new_{args.new}_into_{args.zip_plays}_s"] = daily
        if args.big:
            # a heavy listener: one export of `big` plays, then their daily imports of new plays
            command("users", "add", "big")
            big = files / "Streaming_History_Audio_2010_0.json"
            write_spotify(big, spotify_plays(args.big, datetime(2010, 1, 1, tzinfo=UTC)))
            results[f"import_first_{args.big}_s"] = round(command("import", "big", str(big)), 2)
            daily = daily_imports("big", files, args.daily, args.new)
            results[f"import_new_{args.new}_into_{args.big}_s"] = daily
        if args.big_scrobbles:
            # a heavy Last.fm listener: one export of that many scrobbles, then daily imports of new ones
            from bench_platforms import write_ghan

            command("users", "add", "scrobbler")
            history = files / "scrobbles_2005.csv"
            write_ghan(history, spotify_plays(args.big_scrobbles, datetime(2005, 1, 1, tzinfo=UTC)))
            results[f"import_first_{args.big_scrobbles}_scrobbles_s"] = round(
                command("import", "scrobbler", str(history)), 2
            )
            daily = daily_imports("scrobbler", files, args.daily, args.new, scrobbles=True)
            results[f"import_new_{args.new}_scrobbles_into_{args.big_scrobbles}_s"] = daily
        if args.fold_scrobbles:
            # one history, two services: a listener's Spotify plays, then the same plays as their
            # Last.fm scrobbles (lastfm.ghan.nl CSV), each play once in gold; the floor is a raw COPY
            # of the scrobbles' rows
            from bench_platforms import copy_floor as rows_copy_floor
            from bench_platforms import write_ghan

            from tracktracker_assets.warehouse.db import connect

            command("users", "add", "folded")
            plays = spotify_plays(args.fold_scrobbles, datetime(2012, 1, 1, tzinfo=UTC))
            history, scrobbles = files / "Streaming_History_Audio_2012_0.json", files / "scrobbles_2012.csv"
            write_spotify(history, plays)
            write_ghan(scrobbles, plays)
            n = args.fold_scrobbles
            results[f"import_first_{n}_of_the_folded_listener_s"] = round(
                command("import", "folded", str(history)), 2
            )
            folding = command("import", "folded", str(scrobbles))
            results[f"import_{n}_overlapping_scrobbles_s"] = round(folding, 2)
            conn = connect(settings.database_url)
            try:
                floor = rows_copy_floor(settings, conn, "folded", scrobbles, "lastfm_ghan_csv")
            finally:
                conn.close()
            results[f"floor_copy_{n}_scrobbles_s"] = round(floor, 2)
    finally:
        subprocess.run([str(TRACKTRACKER), "down"], capture_output=True, env=os.environ.copy())
        shutil.rmtree(home, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "commands.json").write_text(json.dumps(results, indent=2))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
