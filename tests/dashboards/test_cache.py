"""Superset's chart cache (on by default) on the real Superset of the test stack: a listener's repeated
request is served from the cache, and nothing cached for one listener is ever served to another."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tracktracker_assets.dashboards.cache import cache_dir
from tracktracker_assets.dashboards.client import SupersetClient

from .conftest import BIStack
from .expected import EXPECTATIONS, Params, compare
from .test_charts import saved_context

pytestmark = pytest.mark.slow
CHART = "Top artists"  # different rows for every listener, names their history only


def request(client: SupersetClient, context: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
    context = copy.deepcopy(context)
    context["force"] = force
    (result,) = client.chart_data(context)
    assert result["status"] == "success", result
    return result


def own_rows(stack: BIStack, user: str) -> list[dict[str, Any]]:
    return EXPECTATIONS[CHART].rows(lambda sql, args: stack.query(sql, args), user, Params())


def test_cache_is_per_listener(bi_stack: BIStack) -> None:
    alice, bob = bi_stack.listener("alice"), bi_stack.listener("bob")
    context = saved_context(bi_stack, alice, CHART)
    alice_rows, bob_rows = own_rows(bi_stack, "alice"), own_rows(bi_stack, "bob")
    assert alice_rows != bob_rows

    # alice's answer computed afresh, then served from the cache
    first = request(alice, context, force=True)
    assert not first["is_cached"]
    again = request(alice, context)
    assert again["is_cached"] is True
    assert again["cache_key"] == first["cache_key"]
    for result in (first, again):
        compare(CHART, EXPECTATIONS[CHART], result["data"], alice_rows)

    # the same request from bob right after: never alice's entry, his own rows
    theirs = request(bob, context)
    assert theirs["cache_key"] != first["cache_key"]
    compare(CHART, EXPECTATIONS[CHART], theirs["data"], bob_rows)
    assert theirs["data"] != first["data"]
    theirs_again = request(bob, context)
    assert theirs_again["is_cached"] is True and theirs_again["cache_key"] == theirs["cache_key"]
    compare(CHART, EXPECTATIONS[CHART], theirs_again["data"], bob_rows)

    # alice still gets hers, from the cache
    mine = request(alice, context)
    assert mine["is_cached"] is True and mine["cache_key"] == first["cache_key"]
    compare(CHART, EXPECTATIONS[CHART], mine["data"], alice_rows)

    # the admin (everyone's rows) has a key of its own too
    admin = request(bi_stack.admin(), context)
    assert admin["cache_key"] not in {first["cache_key"], theirs["cache_key"]}


def test_cache_is_shared_by_the_workers_in_a_private_folder(bi_stack: BIStack) -> None:
    """One file cache for every gunicorn worker (a per-process cache would miss on every other worker),
    readable by its owner only."""
    folder = cache_dir(bi_stack.settings.home, "data")
    carol = bi_stack.listener("carol")
    context = saved_context(bi_stack, carol, CHART)
    key = request(carol, context, force=True)["cache_key"]
    # each request may land on any worker: all of them must find the one entry
    hits = [request(bi_stack.listener("carol"), context) for _ in range(6)]
    assert all(hit["is_cached"] and hit["cache_key"] == key for hit in hits)
    assert (folder.parent.stat().st_mode & 0o777) == 0o700 and (folder.stat().st_mode & 0o777) == 0o700
    entries = list(folder.iterdir())
    assert entries and all((e.stat().st_mode & 0o077) == 0 for e in entries)
