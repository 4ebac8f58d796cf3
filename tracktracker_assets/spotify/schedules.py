"""The recently-played pull: every connected, active user in one run, every N minutes."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tracktracker_assets.jobs import enrich_job, pull_job
from tracktracker_assets.resources import RegistryResource
from tracktracker_assets.settings import get_settings


@schedule(
    job=pull_job,
    cron_schedule=f"*/{get_settings().pull_interval_min} * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Pull recently played for every connected user (one run, bounded concurrency).",
)
def recently_played_schedule(
    context: ScheduleEvaluationContext, registry: RegistryResource
) -> RunRequest | SkipReason:
    with registry.open() as reg:
        connected = {u.user_id for u in reg.connected_users() if u.status == "active"}
    known = context.instance.get_dynamic_partitions("users")
    ordered = [u for u in known if u in connected]
    if not ordered:
        return SkipReason("no user is connected to Spotify")
    # partitions are ordered; a range from the first to the last connected user covers them all and
    # the asset skips the unconnected ones in between
    return RunRequest(
        run_key=None,
        tags={ASSET_PARTITION_RANGE_START_TAG: ordered[0], ASSET_PARTITION_RANGE_END_TAG: ordered[-1]},
    )


@schedule(
    job=enrich_job,
    cron_schedule="7,37 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Fetch catalog details (genres, release dates, images, ISRC, durations) for new tracks.",
)
def catalog_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    if not get_settings().spotify_client_id:
        return SkipReason("the Spotify Web API is not configured")
    return RunRequest()
