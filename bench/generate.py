"""Generate synthetic Spotify exports for benchmarks.

    python bench/generate.py --users 50 --plays 1000000 --out DIR [--seed 1] [--vintages all] [--zip]

Writes DIR/<user_id>/... (one export per user, formats assigned round-robin) and DIR/manifest.json, then
prints the elapsed time, throughput and peak RSS so benchmark notes can quote them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tracktracker_assets.synthetic import ALL_FORMATS, VINTAGES, generate_dataset

ALIASES = {"all": ALL_FORMATS, "extended": tuple(VINTAGES), "account": ("account",)}


def parse_formats(text: str) -> tuple[str, ...]:
    """Formats from "all", "extended", or a comma list such as "endsong,current,account-legacy"."""
    if text in ALIASES:
        return ALIASES[text]
    formats = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {unknown or text!r}; use all, extended or some of {', '.join(ALL_FORMATS)}"
        )
    return formats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Generate realistic synthetic Spotify export files.")
    parser.add_argument("--users", type=int, default=50, help="number of listeners (default 50)")
    parser.add_argument("--plays", type=int, default=1_000_000, help="total plays over all users (exact)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same bytes (default 1)")
    parser.add_argument(
        "--vintages",
        type=parse_formats,
        default=ALL_FORMATS,
        metavar="LIST",
        help="all (default), extended, or a comma list of " + ", ".join(ALL_FORMATS),
    )
    parser.add_argument("--zip", action="store_true", help="write my_spotify_data.zip per user")
    parser.add_argument("--quiet", action="store_true", help="no per-user progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.users < 1 or args.plays < 0:
        print("--users must be >= 1 and --plays >= 0", file=sys.stderr)
        return 2
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    summary = generate_dataset(
        args.out,
        args.users,
        args.plays,
        seed=args.seed,
        formats=args.vintages,
        as_zip=args.zip,
        progress=progress,
    )
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    report = {
        "out": str(args.out),
        "users": len(summary.users),
        "plays": summary.plays,
        "seconds": round(summary.seconds, 2),
        "plays_per_second": round(summary.plays / summary.seconds) if summary.seconds else None,
        "bytes": size,
        "peak_rss_mb": round(summary.peak_rss_mb, 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
