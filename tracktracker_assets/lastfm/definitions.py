"""The lastfm room's Dagster definitions: the live pull's asset (it runs in Spotify's pull job)."""

from dagster import Definitions

from tracktracker_assets.lastfm.assets import lastfm_recent_tracks
from tracktracker_assets.settings import Settings


def defs(settings: Settings) -> Definitions:
    return Definitions(assets=[lastfm_recent_tracks])
