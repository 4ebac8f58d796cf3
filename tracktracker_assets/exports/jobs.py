"""The export job: the files waiting in the listeners' inboxes, loaded into bronze."""

from dagster import AssetKey, AssetSelection, define_asset_job

from tracktracker_assets.orchestration.executor import tracked_in_process_executor

import_exports_job = define_asset_job(
    name="import_exports",
    selection=AssetSelection.assets(["bronze", "spotify_extended_history"]).upstream(depth=0)
    | AssetSelection.assets(
        AssetKey(["bronze", "spotify_account_history"]), AssetKey(["bronze", "loaded_files"])
    ),
    executor_def=tracked_in_process_executor,
    description="Load the files waiting in the users' inboxes into bronze.",
    tags={"tracktracker/kind": "load"},
)
