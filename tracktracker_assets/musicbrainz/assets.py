"""bronze/musicbrainz_recordings: MusicBrainz answers for tracks the Spotify catalog leaves without
genres or a release date, within a request budget per run (one request per second)."""

from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from tracktracker_assets.musicbrainz.resource import MusicBrainzResource
from tracktracker_assets.orchestration.resources import WarehouseResource

RECORDINGS = AssetKey(["bronze", "musicbrainz_recordings"])


@multi_asset(
    name="musicbrainz_recordings",
    specs=[
        AssetSpec(
            RECORDINGS,
            # it reads gold.dim_track to find what to ask, but is upstream of it (the dimension takes
            # the answers), so that read is deliberately not a dependency: it would make a cycle.
            # After Spotify's catalog: what Spotify gives is not asked of MusicBrainz.
            description="MusicBrainz recording lookups and searches (tags, first release date), as received.",
            kinds={"python", "postgres"},
            deps=[AssetKey(["bronze", "spotify_catalog"])],
        )
    ],
    group_name="bronze",
)
def musicbrainz_recordings(
    context: AssetExecutionContext, warehouse: WarehouseResource, musicbrainz: MusicBrainzResource
) -> Any:
    from tracktracker_assets.musicbrainz.lookups import look_up

    settings = warehouse.settings()
    client = musicbrainz.client(settings)
    with warehouse.connection() as conn:
        outcome = look_up(conn, client, budget=settings.musicbrainz_budget)
    if outcome.message:
        context.log.info(outcome.message)
    yield MaterializeResult(
        asset_key=RECORDINGS,
        metadata={
            "requests": outcome.requests,
            "found": outcome.found,
            "not_found": outcome.not_found,
            "pending": outcome.pending_after,
            "seconds": round(outcome.seconds, 1),
            "note": outcome.message or "complete",
        },
    )
