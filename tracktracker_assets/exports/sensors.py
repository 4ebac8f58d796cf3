"""Files dropped into an inbox (by hand, the CLI or the upload page) start one load run (or
TRACKTRACKER_IMPORT_SLICES runs over consecutive slices of the listeners with files, side by side)."""

import uuid

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracktracker_assets.exports.inbox import users_with_pending_files, users_with_settling_files
from tracktracker_assets.exports.jobs import import_exports_job
from tracktracker_assets.orchestration.liveness import job_in_flight
from tracktracker_assets.orchestration.partitions import ordered_users, range_slices, users_partitions
from tracktracker_assets.settings import get_settings


@sensor(job=import_exports_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def inbox_sensor(context: SensorEvaluationContext) -> RunRequest | list[RunRequest] | SkipReason:
    known = context.instance.get_dynamic_partitions(users_partitions.name)
    settings = get_settings()
    waiting = [u for u in users_with_pending_files(settings) if u in known]
    if not waiting:
        # a file still being copied in by hand is taken once it has settled, at a later tick
        settling = [u for u in users_with_settling_files(settings) if u in known]
        if settling:
            return SkipReason(
                f"files still being written in the inbox of {', '.join(settling)}: taken once unchanged "
                f"for {settings.inbox_settle_s:g} s"
            )
        return SkipReason("no files waiting in any inbox")
    running = job_in_flight(context.instance, import_exports_job.name)  # reclaims runs of dead processes
    if running:
        return SkipReason(
            f"load run {running.run_id[:8]} is {running.status.value.lower()}; it or the next tick "
            "takes the files"
        )
    # one run for every user with files (a range, even over one user), or one per slice of them
    slices = range_slices(ordered_users(known, waiting), settings.import_slices)
    if len(slices) == 1:
        return RunRequest(tags=slices[0])
    # several requests of one evaluation need keys: unique ones (the files waiting decide what loads)
    batch = uuid.uuid4().hex[:12]
    return [
        RunRequest(run_key=f"{batch}/slice-{i + 1}-of-{len(slices)}", tags=tags)
        for i, tags in enumerate(slices)
    ]
