"""Work split into a few shares of about equal size, for threads that each take one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def largest_first(items: Sequence[Item], size: Callable[[Item], int], parts: int) -> list[list[Item]]:
    """At most `parts` non-empty shares of `items`: the largest first, each to the share with the
    least so far (items of one size keep their order)."""
    shares: list[list[Item]] = [[] for _ in range(min(parts, len(items)))]
    loads = [0] * len(shares)
    for item in sorted(items, key=lambda item: -size(item)):
        lightest = loads.index(min(loads))
        shares[lightest].append(item)
        loads[lightest] += size(item)
    return shares
