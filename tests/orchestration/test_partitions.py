"""Partition ranges: one run over several users, asked for the same way everywhere."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tracktracker_assets.orchestration.partitions import (
    ensure_partitions,
    ordered_users,
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


def test_a_run_over_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="no user"):
        users_range([])


def test_ensure_partitions_adds_only_the_missing_in_order() -> None:
    with DagsterInstance.ephemeral() as instance:
        assert ensure_partitions(instance, ["b", "a"]) == ["b", "a"]
        assert ensure_partitions(instance, ["a", "c", "c"]) == ["b", "a", "c"]
        assert instance.get_dynamic_partitions("users") == ["b", "a", "c"]
        assert ensure_partitions(instance, []) == ["b", "a", "c"]
