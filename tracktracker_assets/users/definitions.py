"""The users room: the registry mirrored into bronze, and partitions that follow it."""

from dagster import Definitions

from tracktracker_assets.users.assets import registry_users
from tracktracker_assets.users.sensors import registry_sensor


def defs() -> Definitions:
    return Definitions(assets=[registry_users], sensors=[registry_sensor])
