"""The users room: the registry mirrored into bronze, and partitions that follow it."""

from dagster import Definitions

from tracktracker_assets.orchestration.sensors import every
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.assets import registry_users
from tracktracker_assets.users.sensors import registry_sensor


def defs(settings: Settings) -> Definitions:
    return Definitions(assets=[registry_users], sensors=[every(registry_sensor, settings.sensor_interval_s)])
