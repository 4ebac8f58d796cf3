"""Keeps the `users` dynamic partitions and bronze.registry_users in step with the registry."""

import hashlib

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from tracktracker_assets.orchestration.liveness import reclaim_stale_runs
from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import RegistryResource
from tracktracker_assets.transform.jobs import refresh_job


@sensor(job=refresh_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def registry_sensor(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    # the refresh this requests queues behind any refresh in flight: one left by a dead process is
    # reclaimed here, or it would hold the queue (one refresh at a time) for good
    reclaim_stale_runs(context.instance)
    with registry.open() as reg:
        users = reg.list_users()
    current = {u.user_id for u in users}
    known = set(context.instance.get_dynamic_partitions(users_partitions.name))
    added, removed = sorted(current - known), sorted(known - current)
    requests = []
    if added:
        requests.append(users_partitions.build_add_request(added))
    if removed:
        requests.append(users_partitions.build_delete_request(removed))
    # any change of name, time zone or status re-mirrors users and refreshes silver and gold
    state = hashlib.sha256(
        "\n".join(f"{u.user_id}|{u.display_name}|{u.timezone}|{u.status}" for u in users).encode()
    ).hexdigest()
    runs = []
    if state != context.cursor:
        runs.append(RunRequest(run_key=f"registry-{state[:16]}"))
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests, cursor=state)
