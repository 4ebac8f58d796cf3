"""Erasure's Superset step on the real Superset: a listener who used SQL Lab loses their account and
every row of their history in Superset's metadata database (not just a locked account), and nothing of
theirs stays in the chart cache."""

from __future__ import annotations

import pytest
from rich.console import Console

from tests.stores import database_traces
from tracktracker_assets.cli import superset as superset_cli
from tracktracker_assets.dashboards.cache import cache_dir
from tracktracker_assets.dashboards.erase import erase_listener
from tracktracker_assets.dashboards.listeners import password_file
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.users.accounts import mirror_users
from tracktracker_assets.warehouse.access import drop_listener
from tracktracker_assets.warehouse.db import connect

from .conftest import BIStack
from .test_charts import saved_context

pytestmark = pytest.mark.slow

USER, NAME = "sql-lab-leaver", "Lena Leaving-Soon"


def test_a_listeners_superset_account_and_history_are_erased(bi_stack: BIStack) -> None:
    settings = bi_stack.settings
    with open_registry(settings) as registry:
        registry.upsert_user(USER, NAME, "Europe/Paris")
    try:
        mirror_users(settings)  # their warehouse login, without which SQL Lab shows them nothing
        superset_cli.on_user_added(settings, Console(quiet=True), USER)  # what `users add` calls
        listener = bi_stack.listener(USER)
        listener.sql(bi_stack.provisioned.database_id, "select count(*) as n from gold.fct_plays")
        context = saved_context(bi_stack, listener, "Top artists")
        listener.chart_data(context)
        (cached,) = listener.chart_data(context)
        assert cached["is_cached"] is True
        assert list(cache_dir(settings.home, "data").iterdir())
        # the account, its action log and SQL Lab history
        assert database_traces(settings.superset_database_url, [USER, NAME], "superset")
    finally:
        with open_registry(settings) as registry:
            registry.remove_user(USER)
        conn = connect(settings.database_url)
        try:
            drop_listener(conn, settings, USER)
        finally:
            conn.close()
    done = erase_listener(settings, USER)
    assert done and "history deleted" in done
    assert database_traces(settings.superset_database_url, [USER, NAME], "superset") == []
    assert not password_file(settings, USER).exists()
    assert list(cache_dir(settings.home, "data").iterdir()) == []
    assert USER not in [u["username"] for u in bi_stack.admin().list("security/users", order_column="id")]
