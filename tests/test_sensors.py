"""Sensors evaluated against the real instance: partitions follow the registry; inbox files start a run."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator

import pytest
from dagster import build_sensor_context

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.exports.inbox import drop_into_inbox, users_with_pending_files
from tracktracker_assets.orchestration.instance import get_instance
from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource


@pytest.fixture(scope="module", autouse=True)
def no_file_waiting(real_gold) -> Iterator[None]:
    """The inbox sensor sees every inbox of the worker's home, which earlier test files share: what
    they left waiting there is set aside (and named) so that this file's tests see only their own."""
    left = users_with_pending_files(real_gold)
    if left:
        aside = real_gold.home / "inbox-set-aside-by-test-sensors"
        aside.mkdir(exist_ok=True)
        for user in left:
            shutil.move(real_gold.inbox(user), aside / user)
        warnings.warn(f"files waiting in the inboxes of {left} when test_sensors began", stacklevel=1)
    yield


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


def test_bronze_changed_sensor_sees_pending_loads(real_gold, tmp_path) -> None:
    from tracktracker_assets.exports.assets import ACCOUNT_KEY, MANIFEST_KEY
    from tracktracker_assets.orchestration.runs import run_import, run_refresh
    from tracktracker_assets.transform.sensors import bronze_changed_sensor

    instance = get_instance(real_gold)

    def evaluate():
        context = build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
        return bronze_changed_sensor(context)

    def materialized(run_id: str) -> set:
        """The assets a run materialized: the bronze tables it wrote rows to, and the manifest."""
        from dagster import DagsterEventType

        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        return {record.event_log_entry.dagster_event.asset_key for record in records.records}

    assert run_refresh(real_gold).success  # whatever earlier tests left in bronze
    assert evaluate().__class__.__name__ == "SkipReason"
    path = REAL_DATA / "spotify-account" / "hobbies-w-erin--StreamingHistory_podcast_0.json"
    code, output = cli("users", "add", "sensor-loads")
    assert code == 0, output
    drop_into_inbox(real_gold, "sensor-loads", path)
    loaded = run_import(real_gold, ["sensor-loads"])
    assert loaded.success and materialized(loaded.run_id) == {ACCOUNT_KEY, MANIFEST_KEY}
    request = evaluate()
    assert request.__class__.__name__ == "RunRequest" and request.run_key.startswith("bronze-")
    assert evaluate().run_key == request.run_key  # the same pending state asks once (run key)
    assert run_refresh(real_gold).success
    assert evaluate().__class__.__name__ == "SkipReason"
    # a load that adds no play (every record known already) moves no model's watermark; once a
    # refresh has taken it in, it is not pending any more
    known = tmp_path / "StreamingHistory_podcast_9.json"
    known.write_text(json.dumps(json.loads(path.read_text())[:2]))
    drop_into_inbox(real_gold, "sensor-loads", known)
    loaded = run_import(real_gold, ["sensor-loads"])
    assert loaded.success and materialized(loaded.run_id) == {MANIFEST_KEY}  # no bronze table written
    assert evaluate().__class__.__name__ == "RunRequest"
    assert run_refresh(real_gold).success
    assert evaluate().__class__.__name__ == "SkipReason"
    assert cli("users", "remove", "sensor-loads", "--yes")[0] == 0


def test_inbox_sensor_waits_until_a_file_copied_by_hand_settles(real_gold, monkeypatch) -> None:
    import time

    from tracktracker_assets.exports.sensors import inbox_sensor

    monkeypatch.setenv("TRACKTRACKER_INBOX_SETTLE_S", "1")
    context = build_sensor_context(instance=get_instance(real_gold))
    inbox = real_gold.inbox("thinh")
    inbox.mkdir(parents=True, exist_ok=True)
    by_hand = inbox / "Streaming_History_Audio_2026.json"
    by_hand.write_bytes(b'[{"ts": "2026-01-0')  # a copy in progress: written a moment ago
    try:
        skipped = inbox_sensor(context)
        assert skipped.__class__.__name__ == "SkipReason"
        assert "still being written in the inbox of thinh" in skipped.skip_message
        time.sleep(1.1)
        request = inbox_sensor(context)
        assert request.tags["dagster/asset_partition_range_start"] == "thinh"
    finally:
        by_hand.unlink()


def test_status_says_why_each_inbox_file_waits(real_gold, monkeypatch) -> None:
    import os
    import shutil
    import time

    from tracktracker_assets.cli.lifecycle import inbox_rows
    from tracktracker_assets.settings import get_settings

    monkeypatch.setenv("TRACKTRACKER_INBOX_SETTLE_S", "30")
    settings = get_settings()
    inbox = settings.inbox("mica")
    ready = drop_into_inbox(
        settings, "mica", REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Video_2019-2023.json"
    )
    settling = inbox / "copying_by_hand.json"
    settling.write_bytes(b"[")
    partial = inbox / ".incoming-0123"
    partial.write_bytes(b"[")
    fifo = inbox / "pipe.json"
    os.mkfifo(fifo)
    hours_ago = time.time() - 7200
    for path in (partial, fifo):
        os.utime(path, (hours_ago, hours_ago))
    stranger = drop_into_inbox(settings, "not-registered", ready)

    def why(daemon_running: bool) -> dict[tuple[str, str], tuple[str, str]]:
        rows = inbox_rows(settings, {"mica"}, daemon_running=daemon_running)
        return {(user, name): (state, detail) for user, name, _, state, detail in rows}

    try:
        code, output = cli("status")
        assert code == 0 and "Inbox: files waiting" in output, output
        assert all(p.name in output for p in (ready, settling, partial, fifo)), output
        rows = why(daemon_running=False)
        state, detail = rows["mica", ready.name]
        assert state == "ready" and "the daemon is not running: `tracktracker up` starts it" in detail
        state, detail = rows["mica", settling.name]
        assert state == "settling" and "taken once unchanged for 30 s" in detail
        state, detail = rows["mica", partial.name]
        assert state == "interrupted copy" and "removed at the next load run" in detail
        state, detail = rows["mica", fifo.name]
        assert state == "not a file" and "a FIFO (named pipe): the next load run moves it" in detail
        assert "not a registered listener" in rows["not-registered", stranger.name][1]
        state, detail = why(daemon_running=True)["mica", ready.name]
        assert "the daemon's inbox sensor starts a load run within a minute" in detail
    finally:
        for path in (ready, settling, partial, fifo):
            path.unlink()
        shutil.rmtree(stranger.parent)
