"""Provision Superset from code, idempotently: warehouse reader role, asset bundle, Listener role, RLS.

    provision(settings)                    # after service.start(); safe to run on every `up`
    ensure_listener("alice", "Alice")      # Superset user `alice` in the Listener role
    remove_listener("alice")

Security model (DESIGN.md §8):
- Superset reaches the warehouse as `superset_reader`: SELECT on schema gold only (and on future tables
  there through default privileges), read-only by default, no other schema.
- The Listener role gets dashboards, charts and SQL Lab, and `datasource_access` on each dataset of the
  gold database, never `database_access`: SQL Lab then refuses any table that is not a dataset, so a
  table without a row-level-security rule cannot be read by accident. The database has DML off.
- One RLS rule, `user_id = '{{ current_username() }}'`, covers every dataset with a `user_id` column.
  It is a "Base" rule: it applies to every role except Admin (deny by default), Listener included.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg2
import yaml
from psycopg2 import sql

from tracktracker_assets.bi import service
from tracktracker_assets.bi.client import SupersetClient, SupersetError
from tracktracker_assets.settings import Settings, get_settings, read_or_create_secret

ASSETS_DIR = service.SUPERSET_DIR / "assets"
READER_ROLE = "superset_reader"
GOLD_SCHEMA = "gold"
LISTENER_ROLE = "Listener"
RLS_RULE_NAME = "Listeners see only their own rows"
RLS_CLAUSE = "user_id = '{{ current_username() }}'"
PASSWORD_MASK = "XXXXXXXXXX"  # Superset's placeholder for a password given separately
USER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

# Gamma + sql_lab permissions a listener has no use for, or that reveal other users / global settings.
EXCLUDED_VIEW_MENUS = {
    "UserRegistrationsRestAPI",
    "RowLevelSecurity",
    "CacheRestApi",
    "user",
    "security",
    "Task",
}
EXCLUDED_PERMISSIONS = {
    ("can_write", "Theme"),
    ("can_export", "Theme"),
    ("menu_access", "Themes"),
    ("menu_access", "Tasks"),
    ("menu_access", "Action Log"),
    ("can_delete_embedded", "Dashboard"),
    ("can_export_as_example", "Dashboard"),
    ("can_cache_dashboard_screenshot", "Dashboard"),
}


@dataclass(frozen=True)
class Provisioned:
    database_id: int
    datasets: dict[str, int]  # table_name -> id
    charts: dict[str, int]  # slice_name -> id
    dashboards: dict[str, int]  # dashboard_title -> id
    per_user_datasets: list[int]
    listener_role_id: int
    rls_rule_id: int


# ---- the bundle -----------------------------------------------------------------------------------------
def load_bundle(assets_dir: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """Every YAML file of the bundle by its path relative to assets_dir (`charts/x.yaml`, ...)."""
    bundle = {
        path.relative_to(assets_dir).as_posix(): yaml.safe_load(path.read_text())
        for path in sorted(assets_dir.rglob("*.yaml"))
    }
    if "metadata.yaml" not in bundle:
        raise RuntimeError(f"{assets_dir} has no metadata.yaml: it is not a Superset asset bundle.")
    return bundle


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def build_query_context(params: dict[str, Any]) -> dict[str, Any]:
    """A chart's query context from its form data, as Explore would save it (for the common viz types).

    Superset needs a saved query context for GET /api/v1/chart/{id}/data and reports; the frontend
    builds its own when it renders. The datasource id is a placeholder the import replaces.
    """
    viz = params["viz_type"]
    metrics = _as_list(params.get("metrics")) or _as_list(params.get("metric"))
    x_axis = _as_list(params.get("x_axis"))
    groupby = _as_list(params.get("groupby"))
    columns = x_axis + groupby
    filters: list[dict[str, Any]] = []
    where: list[str] = []
    time_range = "No filter"
    for flt in params.get("adhoc_filters") or []:
        if flt.get("expressionType") == "SQL":
            where.append(f"({flt['sqlExpression']})")
        elif flt.get("operator") == "TEMPORAL_RANGE":
            time_range = flt.get("comparator") or "No filter"
            filters.append({"col": flt["subject"], "op": "TEMPORAL_RANGE", "val": time_range})
        else:
            filters.append({"col": flt["subject"], "op": flt["operator"], "val": flt.get("comparator")})
    orderby: list[list[Any]] = []
    if viz == "heatmap_v2":
        for column, key in zip(columns, ("sort_x_axis", "sort_y_axis"), strict=False):
            sort = params.get(key, "alpha_asc")
            if not sort.startswith("value"):
                orderby.append([column, sort.endswith("asc")])
    elif params.get("time_grain_sqla") and x_axis:
        orderby = [[x_axis[0], True]]
    elif metrics and columns:
        orderby = [[metrics[0], not params.get("order_desc", True)]]
    extras: dict[str, Any] = {"having": "", "where": " AND ".join(where)}
    if params.get("time_grain_sqla"):
        extras["time_grain_sqla"] = params["time_grain_sqla"]
    query = {
        "columns": columns,
        "metrics": metrics,
        "filters": filters,
        "orderby": orderby,
        "extras": extras,
        "row_limit": params.get("row_limit") or 10000,
        "time_range": time_range,
        "annotation_layers": [],
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    return {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def reader_sqlalchemy_uri(warehouse_url: str, password: str = PASSWORD_MASK) -> str:
    """The warehouse URL with the reader role as user (the mask as password unless one is given)."""
    parts = urlsplit(warehouse_url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"postgresql+psycopg2://{READER_ROLE}:{quote(password, safe='')}@{host}{port}{parts.path}{query}"


def bundle_zip(bundle: dict[str, dict[str, Any]], warehouse_url: str) -> bytes:
    """The bundle as the ZIP Superset's import API takes, with connection and query contexts filled in."""
    catalog = unquote(urlsplit(warehouse_url).path.lstrip("/"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, config in bundle.items():
            config = dict(config)
            if name.startswith("databases/"):
                config["sqlalchemy_uri"] = reader_sqlalchemy_uri(warehouse_url)
            if name.startswith("datasets/"):
                # Superset 6 treats a PostgreSQL database as a catalog and SQL Lab's access check
                # matches datasets by catalog exactly: a dataset without one is invisible to it.
                config["catalog"] = catalog
            if name.startswith("charts/") and not config.get("query_context"):
                config["query_context"] = json.dumps(build_query_context(config["params"]))
            archive.writestr(f"tracktracker/{name}", yaml.safe_dump(config, sort_keys=False))
    return buffer.getvalue()


# ---- the warehouse role ---------------------------------------------------------------------------------
def reader_password(settings: Settings) -> str:
    return os.environ.get("TRACKTRACKER_SUPERSET_READER_PASSWORD") or read_or_create_secret(
        settings.secrets_dir / "superset-reader-password"
    )


def ensure_reader_role(warehouse_url: str, password: str, *, owners: list[str] | None = None) -> None:
    """Create or update `superset_reader`: login, read-only, SELECT on gold (now and later) only.

    owners: roles that create gold tables (dbt); their future tables are granted through default
    privileges. Defaults to the role of warehouse_url, which is the one dbt runs as in local mode.
    """
    conn = psycopg2.connect(warehouse_url)
    conn.autocommit = False
    role, schema = sql.Identifier(READER_ROLE), sql.Identifier(GOLD_SCHEMA)
    try:
        with conn.cursor() as cur:
            cur.execute("select current_database(), current_user")
            database, me = cur.fetchone()
            cur.execute("select 1 from pg_roles where rolname = %s", (READER_ROLE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create role {} login").format(role))
            cur.execute(
                sql.SQL(
                    "alter role {} with login nosuperuser nocreatedb nocreaterole noinherit noreplication "
                    "nobypassrls connection limit 64 password %s"
                ).format(role),
                (password,),
            )
            for setting, value in (
                ("default_transaction_read_only", "on"),
                # Superset applies RLS only to tables it can name with a schema; an unqualified name that
                # PostgreSQL resolves through search_path would slip past it, so resolve nothing.
                ("search_path", "pg_catalog"),
                ("statement_timeout", "120s"),
                ("idle_in_transaction_session_timeout", "60s"),
            ):
                cur.execute(
                    sql.SQL("alter role {} set {} = %s").format(role, sql.Identifier(setting)), (value,)
                )
            cur.execute(sql.SQL("create schema if not exists {}").format(schema))
            cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), role))
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(schema, role))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema, role))
            for owner in owners or [me]:
                cur.execute(
                    sql.SQL(
                        "alter default privileges for role {} in schema {} grant select on tables to {}"
                    ).format(sql.Identifier(owner), schema, role)
                )
        conn.commit()
    finally:
        conn.close()


# ---- Superset objects -----------------------------------------------------------------------------------
def admin_client(settings: Settings | None = None) -> SupersetClient:
    settings = settings or get_settings()
    return SupersetClient(service.url(settings), service.ADMIN_USERNAME, service.admin_password(settings))


def import_bundle(
    client: SupersetClient, bundle: dict[str, dict[str, Any]], warehouse_url: str, password: str
) -> None:
    passwords = {name: password for name in bundle if name.startswith("databases/")}
    client.request(
        "POST",
        "/api/v1/assets/import/",
        files={"bundle": ("tracktracker.zip", bundle_zip(bundle, warehouse_url), "application/zip")},
        data={"passwords": json.dumps(passwords)},
    )


def _by_uuid(client: SupersetClient, resource: str, columns: list[str]) -> dict[str, dict]:
    return {str(row["uuid"]): row for row in client.list(resource, columns=["id", "uuid", *columns])}


def verify_import(client: SupersetClient, bundle: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Ids of every bundle object, read back from Superset; raises if anything is missing."""
    kinds = {
        "databases/": ("database", "database_name"),
        "datasets/": ("dataset", "table_name"),
        "charts/": ("chart", "slice_name"),
        "dashboards/": ("dashboard", "dashboard_title"),
    }
    found: dict[str, dict[str, int]] = {}
    missing: list[str] = []
    for prefix, (resource, label) in kinds.items():
        present = _by_uuid(client, resource, [label])
        found[resource] = {}
        for name, config in bundle.items():
            if not name.startswith(prefix):
                continue
            row = present.get(str(config["uuid"]))
            if row is None:
                missing.append(name)
            else:
                found[resource][config[label]] = row["id"]
    if missing:
        raise RuntimeError(
            f"Superset accepted the bundle but these objects are missing: {', '.join(missing)}"
        )
    return found


def _role_id(client: SupersetClient, name: str) -> int | None:
    for role in client.list("security/roles", order_column="id"):
        if role["name"] == name:
            return int(role["id"])
    return None


def _permissions(client: SupersetClient) -> list[dict]:
    return client.list("security/permissions-resources", order_column="id")


def _role_permission_ids(client: SupersetClient, role_id: int) -> set[int]:
    return {p["id"] for p in client.get(f"/api/v1/security/roles/{role_id}/permissions/")["result"]}


def ensure_listener_role(client: SupersetClient, database_name: str, dataset_ids: list[int]) -> int:
    """The Listener role: Gamma + sql_lab minus what a listener must not see, plus the gold datasets."""
    role_id = _role_id(client, LISTENER_ROLE)
    if role_id is None:
        role_id = int(client.post("/api/v1/security/roles/", {"name": LISTENER_ROLE})["id"])
    base: set[int] = set()
    for template in ("Gamma", "sql_lab"):
        template_id = _role_id(client, template)
        if template_id is None:
            raise RuntimeError(f"Superset has no {template} role: has `superset init` run?")
        base |= _role_permission_ids(client, template_id)
    wanted: set[int] = set()
    prefix = f"[{database_name}]."
    dataset_suffixes = {f"(id:{dataset_id})" for dataset_id in dataset_ids}
    granted_datasets: set[str] = set()
    for perm in _permissions(client):
        name, view = perm["permission"]["name"], perm["view_menu"]["name"]
        if perm["id"] in base:
            if view in EXCLUDED_VIEW_MENUS or (name, view) in EXCLUDED_PERMISSIONS:
                continue
            wanted.add(perm["id"])
        elif name == "datasource_access" and view.startswith(prefix):
            suffix = view[view.rfind("(id:") :]
            if suffix in dataset_suffixes:
                wanted.add(perm["id"])
                granted_datasets.add(suffix)
    if granted_datasets != dataset_suffixes:
        raise RuntimeError(
            f"Superset has no datasource_access permission for {dataset_suffixes - granted_datasets}"
        )
    if _role_permission_ids(client, role_id) != wanted:
        # this endpoint replaces the role's permission list: the result is exactly `wanted`
        client.post(
            f"/api/v1/security/roles/{role_id}/permissions", {"permission_view_menu_ids": sorted(wanted)}
        )
    return role_id


def _dataset_ids(client: SupersetClient, database_id: int) -> list[int]:
    rows = client.list("dataset", columns=["id", "database.id"])
    return sorted(int(row["id"]) for row in rows if row["database"]["id"] == database_id)


def per_user_datasets(client: SupersetClient, database_id: int) -> list[int]:
    """Every dataset of the database with a `user_id` column: each one needs the RLS rule."""
    ids = []
    for dataset_id in _dataset_ids(client, database_id):
        detail = client.get(f"/api/v1/dataset/{dataset_id}", params={"q": "(columns:!(columns.column_name))"})
        names = {column["column_name"] for column in detail["result"].get("columns", [])}
        if "user_id" in names:
            ids.append(dataset_id)
    return sorted(ids)


def ensure_rls_rule(client: SupersetClient, table_ids: list[int]) -> int:
    admin_id = _role_id(client, "Admin")
    payload = {
        "name": RLS_RULE_NAME,
        "description": "Managed by tracktracker_assets.bi.provision; a listener's username is their user_id.",
        "filter_type": "Base",
        "tables": table_ids,
        "roles": [admin_id],  # for a Base rule, the roles that are exempt
        "group_key": "user_id",
        "clause": RLS_CLAUSE,
    }
    existing = [rule for rule in client.list("rowlevelsecurity") if rule["name"] == RLS_RULE_NAME]
    for extra in existing[1:]:  # a rule duplicated by hand would still filter the same way; keep one
        client.delete(f"/api/v1/rowlevelsecurity/{extra['id']}")
    if not existing:
        return int(client.post("/api/v1/rowlevelsecurity/", payload)["id"])
    rule = existing[0]
    current = {
        "tables": sorted(t["id"] for t in rule.get("tables", [])),
        "roles": sorted(r["id"] for r in rule.get("roles", [])),
        "clause": rule.get("clause"),
        "filter_type": rule.get("filter_type"),
        "group_key": rule.get("group_key"),
    }
    if current != {k: payload[k] for k in current}:
        client.put(f"/api/v1/rowlevelsecurity/{rule['id']}", payload)
    return int(rule["id"])


def provision(
    settings: Settings | None = None,
    *,
    warehouse_url: str | None = None,
    client: SupersetClient | None = None,
    assets_dir: Path = ASSETS_DIR,
) -> Provisioned:
    """Make Superset match the code: reader role, bundle, Listener role, RLS. Safe to repeat.

    warehouse_url: an owner's URL of the warehouse database holding `gold` (default: the settings').
    """
    settings = settings or get_settings()
    warehouse_url = warehouse_url or settings.database_url
    password = reader_password(settings)
    ensure_reader_role(warehouse_url, password)
    client = client or admin_client(settings)
    bundle = load_bundle(assets_dir)
    import_bundle(client, bundle, warehouse_url, password)
    found = verify_import(client, bundle)
    (database_name, database_id), *others = found["database"].items()
    if others:
        raise RuntimeError("the bundle must hold exactly one database (the gold warehouse)")
    datasets = _dataset_ids(client, database_id)
    role_id = ensure_listener_role(client, database_name, datasets)
    per_user = per_user_datasets(client, database_id)
    rule_id = ensure_rls_rule(client, per_user)
    return Provisioned(
        database_id=database_id,
        datasets=found["dataset"],
        charts=found["chart"],
        dashboards=found["dashboard"],
        per_user_datasets=per_user,
        listener_role_id=role_id,
        rls_rule_id=rule_id,
    )


# ---- listeners ------------------------------------------------------------------------------------------
def _listener_secret(settings: Settings, user_id: str) -> Path:
    return settings.secrets_dir / "superset-listeners" / user_id


def _find_user(client: SupersetClient, username: str) -> dict | None:
    rows = client.list("security/users", {"username": username})
    return rows[0] if rows else None


def ensure_listener(
    user_id: str,
    display_name: str,
    password: str | None = None,
    *,
    settings: Settings | None = None,
    client: SupersetClient | None = None,
) -> str:
    """Create or update the Superset user `user_id` in the Listener role; returns their password.

    Without a password, one is generated once and kept in secrets/superset-listeners/<user_id> (0600).
    """
    if not USER_ID_RE.match(user_id):
        raise ValueError(f"{user_id!r} is not a user_id slug (lowercase letters, digits, . _ -)")
    settings = settings or get_settings()
    client = client or admin_client(settings)
    role_id = _role_id(client, LISTENER_ROLE)
    if role_id is None:
        raise RuntimeError("Superset has no Listener role yet: run provisioning first.")
    secret = _listener_secret(settings, user_id)
    set_password = password is not None or not secret.exists()
    if password is None:
        secret.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        password = read_or_create_secret(secret)
    else:
        secret.unlink(missing_ok=True)  # a given password is the caller's to keep
    payload: dict[str, Any] = {
        "first_name": display_name or user_id,
        "last_name": "",
        "email": f"{user_id}@listeners.tracktracker.invalid",
        "active": True,
        "roles": [role_id],
    }
    user = _find_user(client, user_id)
    if user is None:
        client.post("/api/v1/security/users/", {**payload, "username": user_id, "password": password})
    else:
        # keep a password the listener may have changed themselves, unless a new one is due
        client.put(
            f"/api/v1/security/users/{user['id']}",
            {**payload, **({"password": password} if set_password else {})},
        )
    return password


def remove_listener(
    user_id: str, *, settings: Settings | None = None, client: SupersetClient | None = None
) -> bool:
    """Delete the Superset user `user_id` (and their stored password). False if there was none."""
    settings = settings or get_settings()
    client = client or admin_client(settings)
    _listener_secret(settings, user_id).unlink(missing_ok=True)
    user = _find_user(client, user_id)
    if user is None:
        return False
    try:
        client.delete(f"/api/v1/security/users/{user['id']}")
    except SupersetError as exc:
        if exc.status != 422:
            raise
        # their SQL Lab history or saved objects still reference them: lock the account instead
        client.put(f"/api/v1/security/users/{user['id']}", {"active": False, "password": token_urlsafe(32)})
    return True
