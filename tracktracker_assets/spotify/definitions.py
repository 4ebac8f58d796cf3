"""The Spotify Web API room: recently-played pulls per listener and catalog enrichment."""

from dagster import Definitions

from tracktracker_assets.orchestration.sensors import every
from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.assets import spotify_catalog, spotify_recently_played
from tracktracker_assets.spotify.jobs import enrich_job, pull_job
from tracktracker_assets.spotify.schedules import build_pull_schedule, catalog_schedule
from tracktracker_assets.spotify.sensors import new_connection_sensor


def defs(settings: Settings) -> Definitions:
    return Definitions(
        assets=[spotify_recently_played, spotify_catalog],
        jobs=[pull_job, enrich_job],
        schedules=[build_pull_schedule(settings), catalog_schedule],
        sensors=[every(new_connection_sensor, settings.sensor_interval_s)],
    )
