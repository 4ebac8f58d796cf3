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

from tracktracker_assets.orchestration.partitions import ordered_users, range_slices, users_partitions
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
        description="Pull recently played for every connected user (one run, or TRACKTRACKER_PULL_SLICES "
        "runs over consecutive slices of them; bounded concurrency in each).",
        name="recently_played_schedule",
    )
    def recently_played_schedule(
        context: ScheduleEvaluationContext, registry: RegistryResource
    ) -> RunRequest | list[RunRequest] | SkipReason:
        with registry.open() as reg:
            connected = {u.user_id for u in reg.connected_users() if u.status == "active"}
            # the same run pulls Last.fm and ListenBrainz (spotify/jobs.py): their listeners count too
            connected |= {u.user_id for service in LIVE_SERVICES for u in reg.live_users(service)}
        ordered = ordered_users(context.instance.get_dynamic_partitions(users_partitions.name), connected)
        if not ordered:
            return SkipReason("no user is connected to Spotify, Last.fm or ListenBrainz")
        # the asset skips the unconnected users inside a range. Slices (read when the tick runs) are
        # runs side by side: with TRACKTRACKER_EXECUTOR=celery, on different workers
        slices = range_slices(ordered, get_settings().pull_slices)
        if len(slices) == 1:
            return RunRequest(run_key=None, tags=slices[0])
        # several requests of one tick need keys; a key names its tick and its slice
        tick = context.scheduled_execution_time.isoformat()
        return [
            RunRequest(run_key=f"{tick}/slice-{i + 1}-of-{len(slices)}", tags=tags)
            for i, tags in enumerate(slices)
        ]

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
