"""The transform room: silver and gold built by dbt, their checks, refresh and nightly checks."""

from dagster import Definitions, load_asset_checks_from_modules

from tracktracker_assets.orchestration.sensors import every
from tracktracker_assets.settings import Settings
from tracktracker_assets.transform import checks
from tracktracker_assets.transform.assets import build_dbt_assets
from tracktracker_assets.transform.jobs import refresh_job, warehouse_checks_job
from tracktracker_assets.transform.project import dbt_executable, dbt_project
from tracktracker_assets.transform.resource import TrackTrackerDbtResource
from tracktracker_assets.transform.schedules import daily_warehouse_checks
from tracktracker_assets.transform.sensors import bronze_changed_sensor


def defs(settings: Settings) -> Definitions:
    project = dbt_project(settings)
    return Definitions(
        assets=[build_dbt_assets(project)],
        asset_checks=load_asset_checks_from_modules([checks]),
        jobs=[refresh_job, warehouse_checks_job],
        schedules=[daily_warehouse_checks],
        sensors=[every(bronze_changed_sensor, settings.sensor_interval_s)],
        resources={
            "dbt": TrackTrackerDbtResource(
                project_dir=project, profiles_dir=str(project.project_dir), dbt_executable=dbt_executable()
            )
        },
    )
