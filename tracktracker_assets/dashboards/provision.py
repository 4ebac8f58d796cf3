"""Provision Superset from code, idempotently: warehouse reader role, asset bundle, Listener role, RLS,
one Superset account per registry user.

    provision(settings)          # after service.start(); safe to run on every `up`: a re-run changes nothing

The bundle is imported only when it (or the connection) changed since the last import into this
metadata database, and only while every object of it still exists; filter scopes name the real chart
ids after an import (Superset's importer leaves them as in the file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tracktracker_assets.dashboards import service
from tracktracker_assets.dashboards.bundle import ASSETS_DIR, Bundle, bundle_zip, fingerprint, load_bundle
from tracktracker_assets.dashboards.client import SupersetClient
from tracktracker_assets.dashboards.listeners import SyncResult, sync_listeners
from tracktracker_assets.dashboards.security import ensure_listener_role, ensure_rls_rules, wanted_rules
from tracktracker_assets.dashboards.warehouse_role import ensure_reader_role, reader_password
from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.users.registry import User

KINDS = {  # bundle folder -> (API resource, label field)
    "databases/": ("database", "database_name"),
    "datasets/": ("dataset", "table_name"),
    "charts/": ("chart", "slice_name"),
    "dashboards/": ("dashboard", "dashboard_title"),
}


@dataclass(frozen=True)
class Provisioned:
    database_id: int
    datasets: dict[str, int]  # table_name -> id
    charts: dict[str, int]  # slice_name -> id
    dashboards: dict[str, int]  # dashboard_title -> id
    per_user_datasets: list[int]
    listener_role_id: int
    rls_rules: dict[str, int]
    imported: bool  # False when the bundle was already in place
    listeners: SyncResult


def admin_client(settings: Settings | None = None) -> SupersetClient:
    settings = settings or get_settings()
    return SupersetClient(service.url(settings), service.ADMIN_USERNAME, service.admin_password(settings))


def import_bundle(client: SupersetClient, bundle: Bundle, warehouse_url: str) -> None:
    # no `passwords`: the connection carries none (bundle.py says why)
    client.request(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("tracktracker.zip", bundle_zip(bundle, warehouse_url), "application/zip")},
        data={"overwrite": "true"},
    )


def find_objects(client: SupersetClient, bundle: Bundle) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Ids of the bundle's objects in Superset by kind and label, and the bundle files not found."""
    found: dict[str, dict[str, int]] = {}
    missing: list[str] = []
    for prefix, (resource, label) in KINDS.items():
        present = {str(r["uuid"]): r for r in client.list(resource, columns=["id", "uuid", label])}
        found[resource] = {}
        for name, config in bundle.items():
            if name.startswith(prefix):
                row = present.get(str(config["uuid"]))
                if row is None:
                    missing.append(name)
                else:
                    found[resource][config[label]] = int(row["id"])
    return found, missing


def _marker(settings: Settings) -> Path:
    return settings.run_dir / "superset-bundle.json"


def fix_filter_scopes(client: SupersetClient, dashboard_id: int) -> bool:
    """Native filters (and cross-filters) apply to every chart of the dashboard except those their
    scope excludes, by real chart id. Returns True if the dashboard had to be updated."""
    dashboard = client.get(f"/api/v1/dashboard/{dashboard_id}")["result"]
    metadata = json.loads(dashboard.get("json_metadata") or "{}")
    position = json.loads(dashboard.get("position_json") or "{}")
    charts = sorted(
        item["meta"]["chartId"]
        for item in position.values()
        if isinstance(item, dict) and item.get("type") == "CHART"
    )
    before = json.dumps(metadata, sort_keys=True)
    for config in [
        *metadata.get("native_filter_configuration", []),
        metadata.get("global_chart_configuration"),
    ]:
        if config:
            excluded = set(config.get("scope", {}).get("excluded", []))
            config["chartsInScope"] = [c for c in charts if c not in excluded]
    if json.dumps(metadata, sort_keys=True) == before:
        return False
    client.put(f"/api/v1/dashboard/{dashboard_id}", {"json_metadata": json.dumps(metadata)})
    return True


def _dataset_columns(client: SupersetClient, dataset_ids: list[int]) -> dict[int, set[str]]:
    columns = {}
    for dataset_id in dataset_ids:
        detail = client.get(f"/api/v1/dataset/{dataset_id}", params={"q": "(columns:!(columns.column_name))"})
        columns[dataset_id] = {c["column_name"] for c in detail["result"].get("columns", [])}
    return columns


def sync_warehouse_logins(warehouse_url: str, settings: Settings, users: list[User]) -> None:
    from tracktracker_assets.users.sync import listener_limits
    from tracktracker_assets.warehouse import access
    from tracktracker_assets.warehouse.db import connect

    conn = connect(warehouse_url)
    try:
        access.sync_listeners(conn, settings, [u.user_id for u in users], listener_limits(), refresh=True)
    finally:
        conn.close()


def registry_users(settings: Settings) -> list[User]:
    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as registry:
        return registry.list_users()


def provision(
    settings: Settings | None = None,
    *,
    warehouse_url: str | None = None,
    client: SupersetClient | None = None,
    assets_dir: Path = ASSETS_DIR,
    users: list[User] | None = None,
) -> Provisioned:
    """Make Superset match the code and the registry. Safe to repeat.

    warehouse_url: an owner's URL of the warehouse database holding `gold` (default: the settings').
    users: the listeners to have accounts (default: every registry user; others are then removed).
    """
    settings = settings or get_settings()
    warehouse_url = warehouse_url or settings.database_url
    password = reader_password(settings)
    ensure_reader_role(warehouse_url, password)
    client = client or admin_client(settings)
    bundle = load_bundle(assets_dir)

    stamp = fingerprint(bundle, warehouse_url)
    marker = _marker(settings)
    found, missing = find_objects(client, bundle)
    imported = False
    if missing or not marker.exists() or marker.read_text().strip() != stamp:
        import_bundle(client, bundle, warehouse_url)
        found, missing = find_objects(client, bundle)
        if missing:
            raise RuntimeError(
                f"Superset accepted the bundle but these objects are missing: {', '.join(missing)}"
            )
        imported = True
    for dashboard_id in found["dashboard"].values():
        fix_filter_scopes(client, dashboard_id)

    (database_name, database_id), *others = found["database"].items()
    if others:
        raise RuntimeError("the bundle must hold exactly one database (the gold warehouse)")
    datasets = found["dataset"]
    dataset_ids = sorted(datasets.values())
    listener_role = ensure_listener_role(client, database_name, dataset_ids)
    columns = _dataset_columns(client, dataset_ids)
    rules = ensure_rls_rules(client, wanted_rules(datasets, columns))
    everyone = users is None
    wanted = registry_users(settings) if everyone else users
    if everyone:  # their queries log in as their own warehouse roles: those follow the registry too
        sync_warehouse_logins(warehouse_url, settings, wanted)
    listeners = sync_listeners(client, settings, wanted, prune=everyone)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(stamp + "\n")
    return Provisioned(
        database_id=database_id,
        datasets=datasets,
        charts=found["chart"],
        dashboards=found["dashboard"],
        per_user_datasets=sorted(i for i in dataset_ids if "user_id" in columns[i]),
        listener_role_id=listener_role,
        rls_rules=rules,
        imported=imported,
        listeners=listeners,
    )


def dashboard_urls(settings: Settings) -> dict[str, str]:
    """Title -> URL of each dashboard of the bundle (by slug)."""
    base = service.url(settings)
    return {
        config["dashboard_title"]: f"{base}/superset/dashboard/{config['slug']}/"
        for name, config in load_bundle().items()
        if name.startswith("dashboards/")
    }
