"""The export job: the files waiting in the listeners' inboxes, loaded into bronze."""

from dagster import AssetSelection, define_asset_job

from tracktracker_assets.exports.assets import spotify_exports
from tracktracker_assets.orchestration.executor import tracktracker_executor

# every bronze table the inbox loads (Spotify's, the other services', the manifest): one multi-asset
import_exports_job = define_asset_job(
    name="import_exports",
    selection=AssetSelection.assets(spotify_exports),
    executor_def=tracktracker_executor,
    description="Load the files waiting in the users' inboxes into bronze.",
    tags={"tracktracker/kind": "load"},
)
