"""The Listener role and the row-level-security rules (neither is part of an asset bundle).

- Listener = Gamma + sql_lab, minus what reveals other users or global settings or exports the
  connection, minus the authoring menus (Charts, Datasets and the "+" menu: a listener reads
  dashboards, uploads and queries in SQL Lab, and creates no charts or dashboards), plus
  `datasource_access` on each dataset of the gold database, never `database_access`: SQL Lab then
  refuses any gold relation that is not a dataset, so a new table without a rule is closed by default.
- Rules are "Base" rules: they filter every role except Admin (deny by default), Listener included.
  They are the second layer: PostgreSQL itself enforces the same per listener (warehouse/access.py),
  whatever the SQL.
  * own rows: `user_id = '{{ current_username() }}'` on every dataset with a user_id column.
  The shared dimensions (a listener sees the tracks / artists / albums they played themselves, and not
  their columns that tell of other listeners) have no Superset rule: Superset applies a rule by putting
  `(SELECT * FROM <table> WHERE <rule>)` in the table's place, and a listener's role may not read every
  column of a dimension. PostgreSQL enforces both, the rows by policy and the columns by grant
  (dbt/macros/row_security.sql), whatever the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracktracker_assets.dashboards.client import SupersetClient

LISTENER_ROLE = "Listener"
OWN_ROWS_RULE = "Listeners see only their own rows"
OWN_ROWS_CLAUSE = "user_id = '{{ current_username() }}'"
MANAGED_BY = "Managed by tracktracker_assets.dashboards.security; a listener's username is their user_id."

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
    # an export bundle carries the connection (host, port, database, role): nothing a listener needs
    ("can_export", "Dashboard"),
    ("can_export", "Chart"),
    ("can_export", "Dataset"),
    ("can_export", "Database"),
    ("can_export", "SavedQuery"),
    # Authoring, which a listener never does: the Charts and Datasets menus, and the "+" menu, which
    # Superset shows to anyone who may write a chart or a dashboard or has `can_sqllab`. SQL Lab itself
    # needs only the SQLLab permissions and its own menus (`can_sqllab` gates nothing else), so it stays.
    ("menu_access", "Charts"),
    ("menu_access", "Datasets"),
    ("can_write", "Chart"),
    ("can_write", "Dashboard"),
    ("can_sqllab", "Superset"),
}


@dataclass(frozen=True)
class Rule:
    name: str
    clause: str
    group_key: str
    tables: tuple[int, ...]


def role_id(client: SupersetClient, name: str) -> int | None:
    for role in client.list("security/roles", order_column="id"):
        if role["name"] == name:
            return int(role["id"])
    return None


def _role_permission_ids(client: SupersetClient, role: int) -> set[int]:
    return {p["id"] for p in client.get(f"/api/v1/security/roles/{role}/permissions/")["result"]}


def ensure_listener_role(client: SupersetClient, database_name: str, dataset_ids: list[int]) -> int:
    """The Listener role: Gamma + sql_lab minus what a listener must not see, plus the gold datasets."""
    listener = role_id(client, LISTENER_ROLE)
    if listener is None:
        listener = int(client.post("/api/v1/security/roles/", {"name": LISTENER_ROLE})["id"])
    base: set[int] = set()
    for template in ("Gamma", "sql_lab"):
        template_id = role_id(client, template)
        if template_id is None:
            raise RuntimeError(f"Superset has no {template} role: has `superset init` run?")
        base |= _role_permission_ids(client, template_id)
    wanted: set[int] = set()
    prefix = f"[{database_name}]."
    suffixes = {f"(id:{dataset_id})" for dataset_id in dataset_ids}
    granted: set[str] = set()
    for perm in client.list("security/permissions-resources", order_column="id"):
        name, view = perm["permission"]["name"], perm["view_menu"]["name"]
        if perm["id"] in base:
            if view not in EXCLUDED_VIEW_MENUS and (name, view) not in EXCLUDED_PERMISSIONS:
                wanted.add(perm["id"])
        elif name == "datasource_access" and view.startswith(prefix):
            suffix = view[view.rfind("(id:") :]
            if suffix in suffixes:
                wanted.add(perm["id"])
                granted.add(suffix)
    if granted != suffixes:
        raise RuntimeError(f"Superset has no datasource_access permission for {suffixes - granted}")
    if _role_permission_ids(client, listener) != wanted:
        # this endpoint replaces the role's permission list: the result is exactly `wanted`
        client.post(
            f"/api/v1/security/roles/{listener}/permissions", {"permission_view_menu_ids": sorted(wanted)}
        )
    return listener


def wanted_rules(datasets: dict[str, int], columns: dict[int, set[str]]) -> list[Rule]:
    """The rules for the datasets of the gold database (name -> id, id -> column names)."""
    own = tuple(sorted(i for i in datasets.values() if "user_id" in columns[i]))
    return [Rule(OWN_ROWS_RULE, OWN_ROWS_CLAUSE, "user_id", own)]


def ensure_rls_rules(client: SupersetClient, rules: list[Rule]) -> dict[str, int]:
    """Create or update each rule (matched by name); rules of ours no longer wanted are deleted."""
    admin = role_id(client, "Admin")
    existing: dict[str, list[dict]] = {}
    for rule in client.list("rowlevelsecurity"):
        existing.setdefault(rule["name"], []).append(rule)
    ids: dict[str, int] = {}
    for rule in rules:
        payload = {
            "name": rule.name,
            "description": MANAGED_BY,
            "filter_type": "Base",
            "tables": list(rule.tables),
            "roles": [admin],  # for a Base rule: the roles that are exempt
            "group_key": rule.group_key,
            "clause": rule.clause,
        }
        found = existing.pop(rule.name, [])
        for extra in found[1:]:  # a copy made by hand would filter the same way; keep one
            client.delete(f"/api/v1/rowlevelsecurity/{extra['id']}")
        if not found:
            ids[rule.name] = int(client.post("/api/v1/rowlevelsecurity/", payload)["id"])
            continue
        current = found[0]
        state = {
            "tables": sorted(t["id"] for t in current.get("tables", [])),
            "roles": sorted(r["id"] for r in current.get("roles", [])),
            "clause": current.get("clause"),
            "filter_type": current.get("filter_type"),
            "group_key": current.get("group_key"),
            "description": current.get("description"),
        }
        if state != {k: sorted(v) if isinstance(v, list) else v for k, v in payload.items() if k in state}:
            client.put(f"/api/v1/rowlevelsecurity/{current['id']}", payload)
        ids[rule.name] = int(current["id"])
    for leftovers in existing.values():
        for rule in leftovers:
            if rule.get("description") == MANAGED_BY:
                client.delete(f"/api/v1/rowlevelsecurity/{rule['id']}")
    return ids
