"""Sensors evaluated against the real instance: partitions follow the registry; inbox files start a run."""

from __future__ import annotations

from dagster import build_sensor_context

from tests.conftest import REAL_DATA
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
    from tracktracker_assets.transform.sensors import bronze_changed_sensor

    instance = get_instance(real_gold)
    context = build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
    assert bronze_changed_sensor(context).__class__.__name__ == "SkipReason"
