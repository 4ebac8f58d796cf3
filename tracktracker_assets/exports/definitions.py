"""The exports room on the orchestrator: inbox files to bronze."""

from dagster import Definitions

from tracktracker_assets.exports.assets import spotify_exports
from tracktracker_assets.exports.jobs import import_exports_job
from tracktracker_assets.exports.sensors import inbox_sensor
from tracktracker_assets.orchestration.sensors import every
from tracktracker_assets.settings import Settings


def defs(settings: Settings) -> Definitions:
    return Definitions(
        assets=[spotify_exports],
        jobs=[import_exports_job],
        sensors=[every(inbox_sensor, settings.sensor_interval_s)],
    )
