"""Jobs. Both run their steps in one process: each step subprocess would re-import everything (~10 s)."""

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    define_asset_job,
    in_process_executor,
)

from tracktracker_assets.checks import fct_plays_no_duplicate_events, fct_plays_reconciles_with_bronze

import_exports_job = define_asset_job(
    name="import_exports",
    selection=AssetSelection.assets(["bronze", "spotify_extended_history"]).upstream(depth=0)
    | AssetSelection.assets(
        AssetKey(["bronze", "spotify_account_history"]), AssetKey(["bronze", "loaded_files"])
    ),
    executor_def=in_process_executor,
    description="Load the files waiting in the users' inboxes into bronze.",
    tags={"tracktracker/kind": "load"},
)

# invariants that read whole tables: a daily job, not every refresh (whose cost must follow new rows)
WAREHOUSE_CHECKS = AssetSelection.checks(fct_plays_reconciles_with_bronze, fct_plays_no_duplicate_events)

refresh_job = define_asset_job(
    name="refresh_warehouse",
    selection=(
        AssetSelection.assets(AssetKey(["bronze", "registry_users"]))
        | AssetSelection.groups("silver", "gold")
    )
    - WAREHOUSE_CHECKS,
    executor_def=in_process_executor,
    description="Mirror the registry's users, then build silver and gold incrementally with dbt.",
    tags={"tracktracker/kind": "refresh"},
)

warehouse_checks_job = define_asset_job(
    name="warehouse_checks",
    selection=WAREHOUSE_CHECKS,
    executor_def=in_process_executor,
    description="Whole-warehouse invariants: bronze reconciles with gold, no duplicate events.",
    tags={"tracktracker/kind": "checks"},
)

pull_job = define_asset_job(
    name="pull_recently_played",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_recently_played"])),
    executor_def=in_process_executor,
    description="Pull Spotify recently-played for the run's users into bronze.",
    tags={"tracktracker/kind": "pull"},
)

enrich_job = define_asset_job(
    name="enrich_catalog",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_catalog"])),
    executor_def=in_process_executor,
    description="Fetch catalog details for tracks, albums and artists seen but not yet known.",
    tags={"tracktracker/kind": "enrich"},
)


def job_in_flight(instance: DagsterInstance, job_name: str) -> bool:
    """A run of this job is queued, starting or running (sensors then leave the work to it)."""
    in_flight = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    return bool(instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=in_flight), limit=1))
