"""The dashboards room on the orchestrator: Superset's dashboards at the end of the lineage."""

from dagster import Definitions

from tracktracker_assets.dashboards.assets import dashboard_specs


def defs() -> Definitions:
    return Definitions(assets=dashboard_specs())
