"""Refresh silver and gold once after bronze changed, not once per load: a dbt build costs seconds of
start-up whatever it does, and one build takes every load since the last one."""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracktracker_assets.jobs import job_in_flight, refresh_job
from tracktracker_assets.resources import WarehouseResource
from tracktracker_assets.warehouse.status import pending_bronze_load_id


@sensor(job=refresh_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def bronze_changed_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> RunRequest | SkipReason:
    with warehouse.connection() as conn:
        pending = pending_bronze_load_id(conn)
    if pending is None:
        return SkipReason("silver and gold are up to date with bronze")
    if job_in_flight(context.instance, refresh_job.name):
        return SkipReason("a refresh is already queued or running")
    return RunRequest(run_key=f"bronze-{pending}")
