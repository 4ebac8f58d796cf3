"""Refresh silver and gold once after bronze changed, not once per load: a dbt build costs seconds of
start-up whatever it does, and one build takes every load since the last one."""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from tracktracker_assets.jobs import refresh_job
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
    active = context.instance.get_runs(
        filters=RunsFilter(
            job_name=refresh_job.name,
            statuses=[
                DagsterRunStatus.QUEUED,
                DagsterRunStatus.NOT_STARTED,
                DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    if active:
        return SkipReason("a refresh is already queued or running")
    return RunRequest(run_key=f"bronze-{pending}")
