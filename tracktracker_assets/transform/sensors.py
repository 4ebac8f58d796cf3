"""Refresh silver and gold once after bronze changed, not once per load: a dbt build costs seconds of
start-up whatever it does, and one build takes every load since the last one.

A build that did not finish (cut short or failed) is retried once for the same loads, with a new run
key; if that retry does not finish either, the sensor waits for new loads (or a `tracktracker
import`) instead of retrying a failing build every tick.
"""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracktracker_assets.orchestration.liveness import describe_run, job_in_flight
from tracktracker_assets.orchestration.resources import WarehouseResource
from tracktracker_assets.transform.jobs import refresh_job
from tracktracker_assets.warehouse.build_state import unfinished_build
from tracktracker_assets.warehouse.status import pending_bronze_load_id

PENDING_TAG = "tracktracker/bronze_load"  # the newest bronze load a refresh was asked to take in
RETRIES_TAG = "tracktracker/retries"  # the run whose unfinished build this one retries


@sensor(job=refresh_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def bronze_changed_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> RunRequest | SkipReason:
    with warehouse.connection() as conn:
        pending = pending_bronze_load_id(conn)
        unfinished = unfinished_build(conn)
    if pending is None:
        return SkipReason("silver and gold are up to date with bronze")
    running = job_in_flight(context.instance, refresh_job.name)
    if running:
        return SkipReason(f"a refresh is already in flight: {describe_run(context.instance, running.run_id)}")
    tags = {PENDING_TAG: str(pending)}
    if unfinished is None:
        return RunRequest(run_key=f"bronze-{pending}", tags=tags)
    left_by = context.instance.get_run_by_id(unfinished)
    if left_by is not None and RETRIES_TAG in left_by.tags and left_by.tags.get(PENDING_TAG) == str(pending):
        return SkipReason(
            f"run {unfinished[:8]} retried an unfinished build and did not finish either (see its logs); "
            "the next load or `tracktracker import` builds again"
        )
    return RunRequest(
        run_key=f"bronze-{pending}-after-{unfinished[:8]}", tags={**tags, RETRIES_TAG: unfinished}
    )
