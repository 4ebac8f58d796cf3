"""bronze/lastfm_recent_tracks: the live pull of every listener with a lastfm account, per user
partition, in the same job and tick as Spotify's recently-played pull (spotify/jobs.py)."""

from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy, multi_asset

from tracktracker_assets.lastfm.pull import pull
from tracktracker_assets.orchestration.livepulls import materialize_pulls
from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource

KEY = AssetKey(["bronze", "lastfm_recent_tracks"])


@multi_asset(
    name="lastfm_recent_tracks",
    specs=[
        AssetSpec(
            KEY,
            description="Last.fm user.getRecentTracks scrobbles as received (JSON items), "
            "one per user, time and track.",
            kinds={"python", "postgres"},
        )
    ],
    partitions_def=users_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bronze",
    can_subset=False,
)
def lastfm_recent_tracks(
    context: AssetExecutionContext, warehouse: WarehouseResource, registry: RegistryResource
) -> Any:
    yield materialize_pulls(context, warehouse, registry, KEY, "lastfm", pull)
