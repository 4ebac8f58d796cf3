"""Per-user partitions. The `users` dynamic partitions follow the registry (see users/sensors.py).

Dagster keeps dynamic partitions in the order they were added, so one run over the range from the
first to the last of some users covers all of them (assets skip the users in between who have
nothing to do). Runs the CLI executes ask through `users_range` (one user: exactly that partition);
the sensor and schedule request the range tags, even over one user, as the daemon always has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagster import DagsterInstance, DynamicPartitionsDefinition
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tracktracker_assets.orchestration.partition_rows import USERS_PARTITIONS

users_partitions = DynamicPartitionsDefinition(name=USERS_PARTITIONS)


def ordered_users(known: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The wanted users that have a partition, in partition order."""
    wanted = set(wanted)
    return [u for u in known if u in wanted]


def users_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags asking for one run over the partitions from `first` to `last`."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def range_slices(ordered: list[str], slices: int) -> list[dict[str, str]]:
    """Run tags for at most `slices` runs over consecutive, disjoint ranges of these users (in
    partition order), as even as possible. One slice: the one range over all of them."""
    if not ordered:
        return []
    count = max(1, min(slices, len(ordered)))
    size, extra = divmod(len(ordered), count)
    tags, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        tags.append(users_range_tags(ordered[start], ordered[end - 1]))
        start = end
    return tags


def users_range(ordered: list[str]) -> dict[str, Any]:
    """How to ask for one run over these users (in partition order): one partition, or a range.

    Returns keyword arguments for a run request or an in-process execution: `partition_key` for a
    single user, range `tags` for several.
    """
    if not ordered:
        raise ValueError("a run over no user: pick at least one partition")
    if len(ordered) == 1:
        return {"partition_key": ordered[0]}
    return {"tags": users_range_tags(ordered[0], ordered[-1])}


def ensure_partitions(instance: DagsterInstance, user_ids: Iterable[str]) -> list[str]:
    """Add the users' partitions the instance lacks; returns every partition, in order."""
    known = list(instance.get_dynamic_partitions(users_partitions.name))
    missing = [u for u in dict.fromkeys(user_ids) if u not in set(known)]
    if missing:
        instance.add_dynamic_partitions(users_partitions.name, missing)
        known += missing
    return known
