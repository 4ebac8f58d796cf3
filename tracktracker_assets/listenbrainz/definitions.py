"""The listenbrainz room's Dagster definitions: the live pull's asset (it runs in Spotify's pull job)."""

from dagster import Definitions

from tracktracker_assets.listenbrainz.assets import listenbrainz_api_listens
from tracktracker_assets.settings import Settings


def defs(settings: Settings) -> Definitions:
    return Definitions(assets=[listenbrainz_api_listens])
