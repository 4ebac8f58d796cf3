"""How often the daemon evaluates each sensor: one setting for every room's sensors."""

from dagster import SensorDefinition


def every(sensor: SensorDefinition, seconds: int) -> SensorDefinition:
    """A copy of `sensor` that the daemon evaluates at most every `seconds`.

    Sensors are declared once, at module level, where reading the environment would be an import-time
    side effect; the interval is applied when the definitions are built from the settings. Dagster has
    no public way to change it on a copy, hence the private attribute (kept to this module)."""
    copy = sensor.with_attributes()
    copy._min_interval = seconds
    return copy
