"""Partition ranges: one run over several users, asked for the same way everywhere."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tracktracker_assets.orchestration.partitions import (
    ensure_partitions,
    ordered_users,
    range_slices,
    users_range,
    users_range_tags,
)


def test_ordered_users_keeps_partition_order_and_drops_users_without_one() -> None:
    known = ["ana", "sam", "kim", "lee"]
    assert ordered_users(known, ["lee", "ana", "nobody"]) == ["ana", "lee"]
    assert ordered_users(known, []) == []
    assert ordered_users([], ["ana"]) == []


def test_one_user_is_one_partition_several_are_one_range() -> None:
    assert users_range(["ana"]) == {"partition_key": "ana"}
    assert users_range(["ana", "kim", "lee"]) == {
        "tags": {ASSET_PARTITION_RANGE_START_TAG: "ana", ASSET_PARTITION_RANGE_END_TAG: "lee"}
    }
    assert users_range_tags("a", "b") == {
        ASSET_PARTITION_RANGE_START_TAG: "a",
        ASSET_PARTITION_RANGE_END_TAG: "b",
    }


def test_slices_are_consecutive_disjoint_ranges_covering_everyone() -> None:
    users = [f"u{i:02d}" for i in range(10)]
    slices = range_slices(users, 4)
    bounds = [(t[ASSET_PARTITION_RANGE_START_TAG], t[ASSET_PARTITION_RANGE_END_TAG]) for t in slices]
    assert bounds == [("u00", "u02"), ("u03", "u05"), ("u06", "u07"), ("u08", "u09")]
    assert range_slices(users, 1) == [users_range_tags("u00", "u09")]  # one slice: the run as before
    assert len(range_slices(users[:2], 4)) == 2  # never more slices than users
    assert range_slices([], 4) == []


def test_an_unknown_executor_is_refused_naming_the_variable(monkeypatch) -> None:
    from tracktracker_assets.settings import get_settings

    monkeypatch.setenv("TRACKTRACKER_EXECUTOR", "dask")
    with pytest.raises(SystemExit, match="TRACKTRACKER_EXECUTOR='dask' is not one of in_process, celery"):
        get_settings()
    monkeypatch.setenv("TRACKTRACKER_EXECUTOR", "Celery")
    settings = get_settings()
    assert settings.executor == "celery" and settings.pull_slices == settings.import_slices == 4
    assert settings.celery_backend_url == settings.celery_broker_url == "redis://127.0.0.1:6379/1"
    monkeypatch.delenv("TRACKTRACKER_EXECUTOR")
    assert get_settings().executor == "in_process" and get_settings().pull_slices == 1


def test_a_run_over_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="no user"):
        users_range([])


def test_ensure_partitions_adds_only_the_missing_in_order() -> None:
    with DagsterInstance.ephemeral() as instance:
        assert ensure_partitions(instance, ["b", "a"]) == ["b", "a"]
        assert ensure_partitions(instance, ["a", "c", "c"]) == ["b", "a", "c"]
        assert instance.get_dynamic_partitions("users") == ["b", "a", "c"]
        assert ensure_partitions(instance, []) == ["b", "a", "c"]
