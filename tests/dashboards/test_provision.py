"""Provisioning: idempotent, follows the registry, reports a bad bundle, keeps secrets private."""

from __future__ import annotations

import json
import stat
from concurrent.futures import Future

import pytest
from rich.console import Console

from tracktracker_assets.cli import superset as superset_cli
from tracktracker_assets.dashboards import provision
from tracktracker_assets.dashboards.bundle import load_bundle
from tracktracker_assets.dashboards.client import SupersetClient, SupersetError
from tracktracker_assets.dashboards.listeners import listener_password
from tracktracker_assets.dashboards.security import LISTENER_ROLE
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.users.accounts import mirror_users
from tracktracker_assets.warehouse.access import read_listener_login

from .conftest import BIStack

pytestmark = pytest.mark.slow


def inventory(client: SupersetClient) -> dict[str, object]:
    listener = next(r for r in client.list("security/roles") if r["name"] == LISTENER_ROLE)
    dashboards = {}
    for row in client.list("dashboard", columns=["id", "dashboard_title"]):
        detail = client.get(f"/api/v1/dashboard/{row['id']}")["result"]
        dashboards[row["dashboard_title"]] = (
            detail["json_metadata"],
            detail["position_json"],
            detail["changed_on"],
        )
    return {
        "databases": len(client.list("database", columns=["id"])),
        "datasets": sorted(d["table_name"] for d in client.list("dataset", columns=["id", "table_name"])),
        "charts": sorted(c["slice_name"] for c in client.list("chart", columns=["id", "slice_name"])),
        "dashboards": dashboards,
        "rls": sorted(
            (r["name"], r["clause"], sorted(t["id"] for t in r["tables"]))
            for r in client.list("rowlevelsecurity")
        ),
        "users": sorted(u["username"] for u in client.list("security/users", order_column="id")),
        "listener permissions": len(
            client.get(f"/api/v1/security/roles/{listener['id']}/permissions/")["result"]
        ),
    }


def test_reprovisioning_changes_nothing(bi_stack: BIStack) -> None:
    admin = bi_stack.admin()
    before = inventory(admin)
    passwords = {u: listener_password(bi_stack.settings, u) for u in ("alice", "bob", "khushi")}
    again = provision.provision(bi_stack.settings)
    assert not again.imported
    assert (again.listeners.created, again.listeners.updated, again.listeners.removed) == ([], [], [])
    assert inventory(admin) == before
    assert {u: listener_password(bi_stack.settings, u) for u in passwords} == passwords
    # the whole bundle is there once: 8 dashboards, every chart on exactly one of them
    bundle = load_bundle()
    assert len(before["charts"]) == len(set(before["charts"])) == sum(n.startswith("charts/") for n in bundle)
    on_dashboards = []
    for dashboard_id in again.dashboards.values():
        on_dashboards += [
            c["slice_name"] for c in admin.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
        ]
    assert sorted(on_dashboards) == before["charts"]
    assert set(again.dashboards) == {
        "Current listening",
        "Listening history",
        "Explore",
        "Global trends",
        "Year in review",
        "Artist",
        "Track",
        "Genres and eras",
        "Compare with a friend",
    }


def test_a_changed_bundle_is_imported_again_without_duplicates(bi_stack: BIStack) -> None:
    admin = bi_stack.admin()
    before = inventory(admin)
    (bi_stack.settings.run_dir / "superset-bundle.json").unlink()  # as if the bundle had changed
    again = provision.provision(bi_stack.settings)
    assert again.imported
    after = inventory(admin)
    for key in ("databases", "datasets", "charts", "rls", "users", "listener permissions"):
        assert after[key] == before[key], key
    # the import rewrote the dashboards; their filters were pointed at the real charts again
    for title, (metadata, position, _) in after["dashboards"].items():
        assert (metadata, position) == before["dashboards"][title][:2], title


def test_filters_scope_the_dashboards_own_charts(bi_stack: BIStack) -> None:
    admin = bi_stack.admin()
    for title, dashboard_id in bi_stack.provisioned.dashboards.items():
        detail = admin.get(f"/api/v1/dashboard/{dashboard_id}")["result"]
        charts = {c["id"] for c in admin.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]}
        for native in json.loads(detail["json_metadata"])["native_filter_configuration"]:
            excluded = set(native["scope"]["excluded"])
            assert set(native["chartsInScope"]) == charts - excluded, (title, native["name"])


def test_superset_accounts_follow_the_registry(bi_stack: BIStack) -> None:
    settings, admin = bi_stack.settings, bi_stack.admin()
    with open_registry(settings) as registry:
        registry.upsert_user("zoe", "Zoë", "Europe/Paris")
    try:
        mirror_users(settings)  # what `users add` calls: zoe's warehouse role, then her Superset account
        superset_cli.on_user_added(settings, Console(quiet=True), "zoe")
        zoe = SupersetClient(bi_stack.url, "zoe", bi_stack.password("zoe"))
        assert zoe.sql(bi_stack.provisioned.database_id, "select count(*) as n from gold.fct_plays")[
            "data"
        ] == [{"n": 0}]
        account = next(u for u in admin.list("security/users", order_column="id") if u["username"] == "zoe")
        assert account["first_name"] == "Zoë" and [r["name"] for r in account["roles"]] == [LISTENER_ROLE]
        password_file = settings.secrets_dir / "superset-listeners" / "zoe"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    finally:
        with open_registry(settings) as registry:
            registry.remove_user("zoe")
    done = provision.provision(settings)  # a removed registry user loses their account at the next run
    assert done.listeners.removed == ["zoe"]
    assert read_listener_login(settings, "zoe") is None  # and their warehouse role
    # zoe ran a query, which Superset keeps in her SQL Lab history: her account is locked, not deleted
    left = [u for u in admin.list("security/users", order_column="id") if u["username"] == "zoe"]
    assert left == [] or not left[0]["active"]
    with pytest.raises(SupersetError) as refused:
        SupersetClient(bi_stack.url, "zoe", "whatever")
    assert refused.value.status == 401


def test_import_failure_is_reported(bi_stack: BIStack) -> None:
    bundle = load_bundle()
    broken = {name: dict(config) for name, config in bundle.items()}
    chart = next(name for name in broken if name.startswith("charts/"))
    broken[chart]["dataset_uuid"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(SupersetError):
        provision.import_bundle(bi_stack.admin(), broken, bi_stack.settings.database_url)
    assert len(bi_stack.admin().list("chart", columns=["id"])) == sum(n.startswith("charts/") for n in bundle)


def test_ups_early_superset_work_is_skipped_when_running_and_its_failure_is_raised(bi_stack: BIStack) -> None:
    # `up` begins Superset's first-start work (and start) beside its other steps: nothing while it runs
    assert superset_cli.begin_in_background(bi_stack.settings, serve=True) is None
    assert superset_cli.begin_in_background(bi_stack.settings, serve=False) is None
    failed: Future[bool] = Future()
    failed.set_exception(RuntimeError("`superset db upgrade` failed (exit 1); see superset.log"))
    with pytest.raises(RuntimeError, match="db upgrade"):
        superset_cli.start_and_provision(bi_stack.settings, Console(quiet=True), failed)


def test_secrets_are_generated_and_private(bi_stack: BIStack) -> None:
    secrets = bi_stack.settings.secrets_dir
    for name in ("superset-secret-key", "superset-admin-password", "superset-reader-password"):
        path = secrets / name
        assert path.exists() and len(path.read_text().strip()) >= 32, name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    for path in (secrets / "superset-listeners").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_provision_command_is_idempotent(bi_stack: BIStack) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(superset_cli.superset, ["provision"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stderr and "/tracktracker/upload" in result.stderr
    shown = CliRunner().invoke(superset_cli.superset, ["login", "bob"], catch_exceptions=False)
    assert shown.exit_code == 0 and bi_stack.password("bob") in shown.stderr


def test_the_listener_role_reads_and_queries_but_does_not_author(bi_stack: BIStack) -> None:
    """Superset draws its menus from these permissions: no Charts, Datasets or "+" for a listener, while
    the dashboards, charts' data and SQL Lab stay theirs."""
    client = bi_stack.admin()
    listener = next(r for r in client.list("security/roles") if r["name"] == LISTENER_ROLE)
    held = {
        (p["permission_name"], p["view_menu_name"])
        for p in client.get(f"/api/v1/security/roles/{listener['id']}/permissions/")["result"]
    }
    authoring = {
        ("menu_access", "Charts"),
        ("menu_access", "Datasets"),
        ("can_write", "Chart"),
        ("can_write", "Dashboard"),
        ("can_sqllab", "Superset"),  # the "+" menu's "SQL query" entry: SQL Lab itself needs it not
    }
    assert not held & authoring
    reading = {
        ("menu_access", "Dashboards"),
        ("can_read", "Dashboard"),
        ("can_read", "Chart"),
        ("can_read", "SQLLab"),
        ("can_execute_sql_query", "SQLLab"),
        ("menu_access", "SQL Lab"),
    }
    assert reading <= held, reading - held
