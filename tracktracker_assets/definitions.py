"""The code location: every asset, check, job, sensor, schedule and resource, gathered in one place."""

from dagster import Definitions, load_asset_checks_from_modules

from tracktracker_assets import checks
from tracktracker_assets.dashboards import dashboard_specs
from tracktracker_assets.exports import assets as export_assets
from tracktracker_assets.exports.sensors import inbox_sensor
from tracktracker_assets.jobs import (
    enrich_job,
    import_exports_job,
    pull_job,
    refresh_job,
    warehouse_checks_job,
)
from tracktracker_assets.resources import RegistryResource, WarehouseResource
from tracktracker_assets.schedules import daily_warehouse_checks
from tracktracker_assets.spotify.assets import spotify_catalog, spotify_recently_played
from tracktracker_assets.spotify.schedules import catalog_schedule, recently_played_schedule
from tracktracker_assets.spotify.sensors import new_connection_sensor
from tracktracker_assets.transform.assets import DBT_PROJECT, dbt_silver_gold
from tracktracker_assets.transform.project import dbt_executable
from tracktracker_assets.transform.resource import TrackTrackerDbtResource
from tracktracker_assets.transform.sensors import bronze_changed_sensor
from tracktracker_assets.users.assets import registry_users
from tracktracker_assets.users.sensors import registry_sensor

defs = Definitions(
    assets=[
        export_assets.spotify_exports,
        spotify_recently_played,
        spotify_catalog,
        registry_users,
        dbt_silver_gold,
        *dashboard_specs(),
    ],
    asset_checks=load_asset_checks_from_modules([checks]),
    jobs=[import_exports_job, refresh_job, warehouse_checks_job, pull_job, enrich_job],
    schedules=[daily_warehouse_checks, recently_played_schedule, catalog_schedule],
    sensors=[inbox_sensor, registry_sensor, bronze_changed_sensor, new_connection_sensor],
    resources={
        "warehouse": WarehouseResource(),
        "registry": RegistryResource(),
        "dbt": TrackTrackerDbtResource(
            project_dir=DBT_PROJECT,
            profiles_dir=str(DBT_PROJECT.project_dir),
            dbt_executable=dbt_executable(),
        ),
    },
)
