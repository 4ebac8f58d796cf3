"""Last.fm file import benchmark: a bronze load of N scrobbles vs the raw COPY floor of the same rows.

    .venv/bin/python bench/bench_lastfm.py [--scrobbles 1000000] [--format ghan_csv|lastfmstats_json]

Runs against a scratch embedded PostgreSQL. The floor is a COPY of exactly the loaded rows, already as
the loader's CSV, into a table like bronze.lastfm_scrobbles. Target (issue 11): load <= 1.5x floor.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def generate(path: Path, count: int, kind: str) -> None:
    """Scrobbles three minutes apart from 2005 on, names with commas and quotes, some MBIDs."""
    rng = random.Random(11)
    start = 1_108_290_000
    rows = []
    for i in range(count):
        artist = f"Artist {rng.randrange(5000)}"
        mbid = f"{i:08x}-0000-4000-8000-000000000000" if i % 3 == 0 else ""
        rows.append((start + i * 180, artist, f'Album, "{i % 3000}"', f"Track {i % 20000}", mbid))
    if kind == "ghan_csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            writer.writerow(
                ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]
            )
            for uts, artist, album, track, mbid in reversed(rows):  # newest first, as ghan writes
                writer.writerow([uts, "", artist, "", album, "", track, mbid])
    else:
        scrobbles = [{"track": t, "artist": a, "album": al, "date": uts * 1000} for uts, a, al, t, _ in rows]
        path.write_text(json.dumps({"username": "bench", "scrobbles": scrobbles}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scrobbles", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("ghan_csv", "lastfmstats_json"), default="ghan_csv")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tt-bench-lastfm-"))
    home.chmod(0o711)
    os.environ["TRACKTRACKER_HOME"] = str(home)
    from tracktracker_assets.exports.catalogue import by_name
    from tracktracker_assets.exports.loader import COPY_OPTIONS, load_source, make_durable, rows_to_csv
    from tracktracker_assets.exports.rowformats import ReadContext
    from tracktracker_assets.exports.sources import FileSource
    from tracktracker_assets.services.local import start_storage, stop_storage
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    start_storage(settings)
    results: dict[str, object] = {"scrobbles": args.scrobbles, "format": args.format}
    try:
        data = home / f"scrobbles.{args.format.rpartition('_')[2]}"
        generate(data, args.scrobbles, args.format)
        results["file_mb"] = round(data.stat().st_size / 2**20)
        fmt = by_name(f"lastfm_{args.format}")
        conn = connect(settings.database_url)

        t = time.perf_counter()
        with data.open("rb") as stream:
            read_rows = sum(len(batch) for batch in fmt.read(stream, ReadContext(data.name)))
        results["read_only_seconds"] = round(time.perf_counter() - t, 2)

        t = time.perf_counter()
        loaded = load_source(conn, "bench", FileSource(data), durable=False)
        make_durable(conn)
        results["bronze_load_seconds"] = round(time.perf_counter() - t, 2)
        assert loaded.inserted == read_rows == args.scrobbles, (loaded.inserted, read_rows)

        floor = home / "rows.csv"
        with data.open("rb") as stream, floor.open("wb") as out:
            for batch in fmt.read(stream, ReadContext(data.name)):
                out.write(rows_to_csv([("bench", 0, *row) for row in batch]))
        with conn.cursor() as cur:
            cur.execute("create table public.copy_floor (like bronze.lastfm_scrobbles including all)")
        conn.commit()
        columns = ", ".join(("user_id", "load_id", *fmt.columns))
        t = time.perf_counter()
        with floor.open("rb") as stream, conn.cursor() as cur:
            cur.copy_expert(
                f"copy public.copy_floor ({columns}) from stdin with {COPY_OPTIONS}", stream, size=1 << 20
            )
        conn.commit()
        results["raw_copy_seconds"] = round(time.perf_counter() - t, 2)
        results["load_vs_copy"] = round(results["bronze_load_seconds"] / results["raw_copy_seconds"], 2)
        conn.close()
    finally:
        stop_storage(settings)
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
