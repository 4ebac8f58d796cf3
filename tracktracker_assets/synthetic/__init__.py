"""Synthetic Spotify export files (extended streaming history and account data) for demos and benchmarks.

Realistic synthetic Spotify exports: extended streaming history (4 vintages) and account data.

Design choices that matter to callers:
- Plays of a user are drawn per local "listening day" (04:00 to 04:00 in the user's zone) from an RNG
  seeded by (seed, user, day). Any date range of a user is therefore reproducible without generating
  the rest, and two exports with overlapping ranges re-emit identical plays.
- Everything streams: plays are produced day by day and rows are buffered one output file (~12 MB) at a
  time, so memory does not grow with the number of plays.
- Files mimic what Spotify ships (key sets and order per vintage, one-line JSON arrays with ", " and
  ": " separators, non-ASCII kept raw, ~12 MB / 10,000-row splits, mild disorder) because the loader
  detects formats from content and must cope with exactly these quirks.
- Privacy fields carry RFC 5737 addresses and "fake-" usernames; the loader drops them anyway.

Modules, each importing only the ones above it:
  _rand, _time   deterministic helpers (hashing, ids, weighted picks); time units and format-change dates
  names          invented names in several scripts
  catalog        artists -> albums -> tracks, podcast shows, audiobooks (build_catalog)
  listeners      devices and user profiles (make_user)
  plays          one listening day at a time (iter_plays)
  vintages       the row each export vintage or account data holds for a play
  files          a directory or ZIP, and the cutting of a row series into files
  extras         the non-history files of a ZIP
  writer         one user's export (write_export, write_overlapping_exports)
  dataset, demo  benchmark datasets (generate_dataset) and the demo preset (generate_demo)
"""

from tracktracker_assets.synthetic.catalog import Catalog, Chapter, Episode, Track, build_catalog
from tracktracker_assets.synthetic.dataset import DatasetSummary, generate_dataset
from tracktracker_assets.synthetic.demo import DEMO_USERS, DemoUser, generate_demo
from tracktracker_assets.synthetic.listeners import Device, UserProfile, make_user
from tracktracker_assets.synthetic.plays import Play, generate_user_plays, iter_plays
from tracktracker_assets.synthetic.vintages import (
    ACCOUNT_FORMATS,
    ALL_FORMATS,
    VINTAGES,
    Vintage,
    play_to_account,
    play_to_extended,
)
from tracktracker_assets.synthetic.writer import write_export, write_overlapping_exports

__all__ = [
    "ACCOUNT_FORMATS",
    "ALL_FORMATS",
    "DEMO_USERS",
    "VINTAGES",
    "Catalog",
    "Chapter",
    "DatasetSummary",
    "DemoUser",
    "Device",
    "Episode",
    "Play",
    "Track",
    "UserProfile",
    "Vintage",
    "build_catalog",
    "generate_dataset",
    "generate_demo",
    "generate_user_plays",
    "iter_plays",
    "make_user",
    "play_to_account",
    "play_to_extended",
    "write_export",
    "write_overlapping_exports",
]
