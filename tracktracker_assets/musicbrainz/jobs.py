"""The MusicBrainz lookup job."""

from dagster import AssetSelection, define_asset_job

from tracktracker_assets.musicbrainz.assets import RECORDINGS
from tracktracker_assets.orchestration.executor import tracktracker_executor

musicbrainz_job = define_asset_job(
    name="musicbrainz_lookups",
    selection=AssetSelection.assets(RECORDINGS),
    executor_def=tracktracker_executor,
    description="Ask MusicBrainz for genres and release dates of tracks the Spotify catalog leaves without.",
    tags={"tracktracker/kind": "enrich"},
)
