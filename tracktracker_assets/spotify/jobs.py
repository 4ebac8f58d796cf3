"""Spotify Web API jobs: pull recently-played per listener; enrich the catalog."""

from dagster import AssetKey, AssetSelection, define_asset_job

from tracktracker_assets.orchestration.executor import tracked_in_process_executor

pull_job = define_asset_job(
    name="pull_recently_played",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_recently_played"])),
    executor_def=tracked_in_process_executor,
    description="Pull Spotify recently-played for the run's users into bronze.",
    tags={"tracktracker/kind": "pull"},
)

enrich_job = define_asset_job(
    name="enrich_catalog",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_catalog"])),
    executor_def=tracked_in_process_executor,
    description="Fetch catalog details for tracks, albums and artists seen but not yet known.",
    tags={"tracktracker/kind": "enrich"},
)
