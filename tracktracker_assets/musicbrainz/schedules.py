"""MusicBrainz lookups twice an hour, between Spotify's catalog runs (spotify/schedules.py: 7 and 37)."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from tracktracker_assets.musicbrainz.jobs import musicbrainz_job
from tracktracker_assets.settings import get_settings


@schedule(
    job=musicbrainz_job,
    cron_schedule="22,52 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Ask MusicBrainz for genres and release years Spotify's catalog does not give.",
)
def musicbrainz_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    if not get_settings().musicbrainz_contact:
        return SkipReason("MusicBrainz lookups are off: set TRACKTRACKER_MUSICBRAINZ_CONTACT")
    return RunRequest()
