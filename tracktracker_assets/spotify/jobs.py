"""Spotify Web API jobs: pull recently-played per listener; enrich the catalog."""

from dagster import AssetKey, AssetSelection, define_asset_job

from tracktracker_assets.orchestration.executor import tracktracker_executor

# one scheduled run per tick pulls every live source: Spotify, Last.fm and ListenBrainz (each asset
# pulls the run's users who have an account there and skips the rest)
pull_job = define_asset_job(
    name="pull_recently_played",
    selection=AssetSelection.assets(
        AssetKey(["bronze", "spotify_recently_played"]),
        AssetKey(["bronze", "lastfm_recent_tracks"]),
        AssetKey(["bronze", "listenbrainz_api_listens"]),
    ),
    executor_def=tracktracker_executor,
    description="Pull Spotify recently-played, Last.fm scrobbles and ListenBrainz listens for the run's "
    "users into bronze.",
    tags={"tracktracker/kind": "pull"},
)

enrich_job = define_asset_job(
    name="enrich_catalog",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_catalog"])),
    executor_def=tracktracker_executor,
    description="Fetch catalog details for tracks, albums and artists seen but not yet known.",
    tags={"tracktracker/kind": "enrich"},
)
