"""The warehouse's jobs: the incremental refresh, and the daily whole-warehouse checks."""

from dagster import AssetKey, AssetSelection, define_asset_job

from tracktracker_assets.orchestration.executor import tracktracker_executor
from tracktracker_assets.transform.checks import (
    fct_play_sources_account_for_every_source_row,
    fct_plays_no_duplicate_events,
    fct_plays_reconciles_with_bronze,
)

# invariants that read whole tables: a daily job, not every refresh (whose cost must follow new rows)
WAREHOUSE_CHECKS = AssetSelection.checks(
    fct_plays_reconciles_with_bronze,
    fct_plays_no_duplicate_events,
    fct_play_sources_account_for_every_source_row,
)

refresh_job = define_asset_job(
    name="refresh_warehouse",
    selection=(
        AssetSelection.assets(AssetKey(["bronze", "registry_users"]))
        | AssetSelection.groups("silver", "gold")
    )
    - WAREHOUSE_CHECKS,
    executor_def=tracktracker_executor,
    description="Mirror the registry's users, then build silver and gold incrementally with dbt.",
    tags={"tracktracker/kind": "refresh"},
)

warehouse_checks_job = define_asset_job(
    name="warehouse_checks",
    selection=WAREHOUSE_CHECKS,
    executor_def=tracktracker_executor,
    description="Whole-warehouse invariants: bronze reconciles with gold, no duplicate events, full lineage.",
    tags={"tracktracker/kind": "checks"},
)
