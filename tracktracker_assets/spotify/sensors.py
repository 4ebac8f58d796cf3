"""A listener who just connected Spotify is pulled at once, not at the next scheduled tick."""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import RegistryResource
from tracktracker_assets.spotify.jobs import pull_job


@sensor(job=pull_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def new_connection_sensor(
    context: SensorEvaluationContext, registry: RegistryResource
) -> SensorResult | SkipReason:
    with registry.open() as reg:
        fresh = [
            u
            for u in reg.connected_users()
            if u.status == "active"
            and u.connected_at is not None
            and (u.last_pull_at is None or u.last_pull_at < u.connected_at)
        ]
    if not fresh:
        return SkipReason("no listener connected Spotify since their last pull")
    # the registry sensor adds a new user's partition; until it has, wait for the next tick
    known = set(context.instance.get_dynamic_partitions(users_partitions.name))
    # one run per consent: the run key makes a failed first pull wait for the schedule, not loop
    return SensorResult(
        run_requests=[
            RunRequest(
                partition_key=u.user_id,
                run_key=f"connected-{u.user_id}-{u.connected_at.timestamp() * 1000:.0f}",
                tags={"tracktracker/trigger": "new-connection"},
            )
            for u in fresh
            if u.user_id in known and u.connected_at is not None
        ]
    )
