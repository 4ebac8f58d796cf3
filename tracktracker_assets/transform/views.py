"""Views and static tables hold code, not data: a refresh rebuilds them only when they changed or went
missing.

dbt recreates every view on every run, and re-runs the calendar, which costs each refresh a node per
view (~0.2 s of dbt's own work each) for nothing. A stamp remembers the checksums of these nodes as
last built; while it matches the manifest and every relation exists, refreshes leave them out. A
full rebuild drops tables and, with them, dependent views: the existence check brings them back.

The stamp lives in the warehouse it describes (bronze.dbt_state), written only after a build that
succeeded: dbt's target follows the home, which may change warehouses, and a build cut short
leaves the old stamp (or none), so the next build rebuilds these nodes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.manifest import read_manifest
from tracktracker_assets.warehouse.build_state import STATIC_NODES, get_state, set_state
from tracktracker_assets.warehouse.db import connect, lent_or_own

EXCLUDE_STATIC = "config.materialized:view tag:static"


def is_static(node: dict[str, Any]) -> bool:
    """A view or a static table: what EXCLUDE_STATIC selects."""
    return node["resource_type"] == "model" and (
        node["config"].get("materialized") == "view" or "static" in node["config"].get("tags", [])
    )


def _static_nodes(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (node["schema"], node["alias"] or node["name"], node["checksum"]["checksum"])
        for node in manifest["nodes"].values()
        if is_static(node)
    )


def project_macros(manifest: dict[str, Any]) -> list[str]:
    # post-hooks (row security) and macros shape what a view or the calendar is, not only its SQL file
    return sorted(
        m["macro_sql"] for m in manifest.get("macros", {}).values() if m.get("package_name") == "tracktracker"
    )


def _fingerprint(nodes: list[tuple[str, str, str]], macros: list[str]) -> str:
    return hashlib.sha256(json.dumps([nodes, macros]).encode()).hexdigest()


def static_nodes_current(settings: Settings, manifest_path: Path, conn: Any | None = None) -> bool:
    """conn: a connection to use instead of one of its own (left without a transaction)."""
    manifest = read_manifest(manifest_path)
    nodes = _static_nodes(manifest)
    fingerprint = _fingerprint(nodes, project_macros(manifest))
    with lent_or_own(settings.database_url, conn) as conn:
        if get_state(conn, STATIC_NODES) != fingerprint:
            return False
        with conn.cursor() as cur:
            cur.execute(
                "select count(to_regclass(format('%%I.%%I', s, n))) "
                "from unnest(%s::text[], %s::text[]) as t (s, n)",
                ([n[0] for n in nodes], [n[1] for n in nodes]),
            )
            return cur.fetchone()[0] == len(nodes)


def mark_static_nodes_built(settings: Settings, manifest_path: Path) -> None:
    manifest = read_manifest(manifest_path)
    conn = connect(settings.database_url)
    try:
        set_state(conn, STATIC_NODES, _fingerprint(_static_nodes(manifest), project_macros(manifest)))
    finally:
        conn.close()
