"""The takeout room on the orchestrator: takeouts asked for on the upload page, built with the
owner's credentials Superset's process does not have (takeout/requests.py)."""

from dagster import (
    DefaultSensorStatus,
    Definitions,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)

from tracktracker_assets.orchestration.sensors import every
from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.takeout.requests import fulfil_requests, request_key


@op(description="Build every takeout asked for on the upload page, for its listener to download.")
def build_requested_takeouts(context: OpExecutionContext) -> None:
    for path in fulfil_requests(get_settings()):
        context.log.info(f"takeout ready: {path.name}")


@job(name="build_takeouts", executor_def=in_process_executor, tags={"tracktracker/kind": "takeout"})
def takeout_job() -> None:
    build_requested_takeouts()


@sensor(job=takeout_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def takeout_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    key = request_key(get_settings())
    if not key:
        return SkipReason("no takeout asked for")
    # the same requests never start a second run; a request made meanwhile has a new key
    return RunRequest(run_key=f"takeout:{key}")


def defs(settings: Settings) -> Definitions:
    return Definitions(jobs=[takeout_job], sensors=[every(takeout_sensor, settings.sensor_interval_s)])
