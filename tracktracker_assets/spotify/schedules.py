"""The recently-played pull: every connected, active user in one run, every N minutes (with the Last.fm
and ListenBrainz pulls of those who have such an account)."""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from tracktracker_assets.orchestration.partitions import ordered_users, users_partitions, users_range_tags
from tracktracker_assets.orchestration.resources import RegistryResource
from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.spotify.jobs import enrich_job, pull_job
from tracktracker_assets.users.registry import LIVE_SERVICES


def build_pull_schedule(settings: Settings) -> ScheduleDefinition:
    """The pull every TRACKTRACKER_PULL_INTERVAL_MIN minutes (read when definitions load, not at import)."""

    @schedule(
        job=pull_job,
        cron_schedule=f"*/{settings.pull_interval_min} * * * *",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Pull recently played for every connected user (one run, bounded concurrency).",
        name="recently_played_schedule",
    )
    def recently_played_schedule(
        context: ScheduleEvaluationContext, registry: RegistryResource
    ) -> RunRequest | SkipReason:
        with registry.open() as reg:
            connected = {u.user_id for u in reg.connected_users() if u.status == "active"}
            # the same run pulls Last.fm and ListenBrainz (spotify/jobs.py): their listeners count too
            connected |= {u.user_id for service in LIVE_SERVICES for u in reg.live_users(service)}
        ordered = ordered_users(context.instance.get_dynamic_partitions(users_partitions.name), connected)
        if not ordered:
            return SkipReason("no user is connected to Spotify, Last.fm or ListenBrainz")
        # the asset skips the unconnected users inside the range
        return RunRequest(run_key=None, tags=users_range_tags(ordered[0], ordered[-1]))

    return recently_played_schedule


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
