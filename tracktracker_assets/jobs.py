"""Jobs. Both run their steps in one process: each step subprocess would re-import everything (~10 s)."""

from dagster import AssetKey, AssetSelection, define_asset_job, in_process_executor

from tracktracker_assets.partitions import users_partitions

import_exports_job = define_asset_job(
    name="import_exports",
    selection=AssetSelection.assets(["bronze", "spotify_extended_history"]).upstream(depth=0)
    | AssetSelection.assets(
        AssetKey(["bronze", "spotify_account_history"]), AssetKey(["bronze", "loaded_files"])
    ),
    partitions_def=users_partitions,
    executor_def=in_process_executor,
    description="Load the files waiting in the users' inboxes into bronze.",
    tags={"tracktracker/kind": "load"},
)

refresh_job = define_asset_job(
    name="refresh_warehouse",
    selection=AssetSelection.assets(AssetKey(["bronze", "registry_users"]))
    | AssetSelection.groups("silver", "gold"),
    executor_def=in_process_executor,
    description="Mirror the registry's users, then build silver and gold incrementally with dbt.",
    tags={"tracktracker/kind": "refresh"},
)
