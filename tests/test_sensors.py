"""Sensors evaluated against the real instance: partitions follow the registry; inbox files start a run."""

from __future__ import annotations

from dagster import build_sensor_context

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.ingest.inbox import drop_into_inbox
from tracktracker_assets.instance import get_instance
from tracktracker_assets.resources import RegistryResource, WarehouseResource


def test_registry_sensor_adds_and_removes_partitions(real_gold) -> None:
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.users.sensors import registry_sensor

    instance = get_instance(real_gold)
    with open_registry(real_gold) as registry:
        registry.add_user("sensor-new", timezone="Europe/Paris")
    instance.add_dynamic_partitions("users", ["sensor-gone"])
    context = build_sensor_context(instance=instance, resources={"registry": RegistryResource()})
    result = registry_sensor(context)
    adds = [r for r in result.dynamic_partitions_requests if "sensor-new" in r.partition_keys]
    deletes = [r for r in result.dynamic_partitions_requests if "sensor-gone" in r.partition_keys]
    assert adds and deletes
    assert len(result.run_requests) == 1  # the registry changed: mirror it and refresh
    with open_registry(real_gold) as registry:
        registry.remove_user("sensor-new")
    instance.delete_dynamic_partition("users", "sensor-gone")


def test_inbox_sensor_requests_one_run_for_all_waiting_users(real_gold) -> None:
    from tracktracker_assets.exports.sensors import inbox_sensor

    instance = get_instance(real_gold)
    context = build_sensor_context(instance=instance)
    assert inbox_sensor(context).__class__.__name__ == "SkipReason"
    path = REAL_DATA / "spotify-extended" / "Efrrowini--Streaming_History_Video_2026.json"
    first, last = drop_into_inbox(real_gold, "candidlyred", path), drop_into_inbox(real_gold, "vnegi", path)
    request = inbox_sensor(context)
    tags = request.tags
    assert tags["dagster/asset_partition_range_start"] == "candidlyred"
    assert tags["dagster/asset_partition_range_end"] == "vnegi"
    first.unlink()
    last.unlink()


def test_bronze_changed_sensor_sees_pending_loads(real_gold) -> None:
    from tracktracker_assets.runner import run_import, run_refresh
    from tracktracker_assets.transform.sensors import bronze_changed_sensor

    instance = get_instance(real_gold)

    def evaluate():
        context = build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
        return bronze_changed_sensor(context)

    assert run_refresh(real_gold).success  # whatever earlier tests left in bronze
    assert evaluate().__class__.__name__ == "SkipReason"
    path = REAL_DATA / "spotify-account" / "hobbies-w-erin--StreamingHistory_podcast_0.json"
    code, output = cli("users", "add", "sensor-loads")
    assert code == 0, output
    drop_into_inbox(real_gold, "sensor-loads", path)
    assert run_import(real_gold, ["sensor-loads"]).success
    request = evaluate()
    assert request.__class__.__name__ == "RunRequest" and request.run_key.startswith("bronze-")
    assert evaluate().run_key == request.run_key  # the same pending state asks once (run key)
    assert run_refresh(real_gold).success
    assert evaluate().__class__.__name__ == "SkipReason"
    assert cli("users", "remove", "sensor-loads", "--yes")[0] == 0
