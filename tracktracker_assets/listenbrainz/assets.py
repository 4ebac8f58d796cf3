"""bronze/listenbrainz_api_listens: the live pull of every listener with a listenbrainz account, per user
partition, in the same job and tick as Spotify's recently-played pull (spotify/jobs.py)."""

from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy, multi_asset

from tracktracker_assets.listenbrainz.pull import pull
from tracktracker_assets.orchestration.livepulls import materialize_pulls
from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource

KEY = AssetKey(["bronze", "listenbrainz_api_listens"])


@multi_asset(
    name="listenbrainz_api_listens",
    specs=[
        AssetSpec(
            KEY,
            description="ListenBrainz listens as received from GET /1/user/{name}/listens, "
            "one per user, time and listen.",
            kinds={"python", "postgres"},
        )
    ],
    partitions_def=users_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bronze",
    can_subset=False,
)
def listenbrainz_api_listens(
    context: AssetExecutionContext, warehouse: WarehouseResource, registry: RegistryResource
) -> Any:
    yield materialize_pulls(context, warehouse, registry, KEY, "listenbrainz", pull)
