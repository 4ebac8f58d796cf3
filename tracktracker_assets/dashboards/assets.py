"""Superset dashboards as external assets at the end of the lineage (bronze → silver → gold → dashboards).

Read from the YAML bundle under superset/assets, the same one provisioning imports: a dashboard names
its charts by uuid, a chart its dataset, a dataset a gold table or a SQL query over gold. The graph so
follows the dashboards as they are, with no list to keep in step by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from dagster import AssetKey, AssetSpec

from tracktracker_assets.dashboards.bundle import ASSETS_DIR, SAFE_LOADER

_GOLD_TABLE = re.compile(r"\bgold\s*\.\s*\"?([a-z_][a-z0-9_]*)\"?", re.IGNORECASE)


def _load(assets_dir: Path, folder: str) -> list[dict[str, Any]]:
    return [
        yaml.load(p.read_text(), Loader=SAFE_LOADER) for p in sorted((assets_dir / folder).rglob("*.yaml"))
    ]


def _dataset_tables(dataset: dict[str, Any]) -> set[str]:
    if dataset.get("sql"):
        return {m.lower() for m in _GOLD_TABLE.findall(dataset["sql"])}
    return {dataset["table_name"]} if dataset.get("schema") == "gold" else set()


def _chart_uuids(position: dict[str, Any]) -> set[str]:
    return {
        node["meta"]["uuid"]
        for node in position.values()
        if isinstance(node, dict) and node.get("type") == "CHART" and node.get("meta", {}).get("uuid")
    }


def dashboard_specs(assets_dir: Path = ASSETS_DIR) -> list[AssetSpec]:
    if not (assets_dir / "dashboards").is_dir():
        return []
    datasets = {d["uuid"]: _dataset_tables(d) for d in _load(assets_dir, "datasets")}
    charts = {c["uuid"]: datasets.get(c["dataset_uuid"], set()) for c in _load(assets_dir, "charts")}
    specs = []
    for dashboard in _load(assets_dir, "dashboards"):
        tables = set().union(*(charts.get(u, set()) for u in _chart_uuids(dashboard.get("position") or {})))
        slug = dashboard.get("slug") or re.sub(
            r"[^a-z0-9]+", "_", dashboard["dashboard_title"].lower()
        ).strip("_")
        specs.append(
            AssetSpec(
                AssetKey(["superset", slug.replace("-", "_")]),
                description=f"Superset dashboard “{dashboard['dashboard_title']}” (from superset/assets).",
                deps=[AssetKey(["gold", table]) for table in sorted(tables)],
                group_name="dashboards",
                kinds={"superset"},
                metadata={
                    "dashboard_uuid": dashboard["uuid"],
                    "charts": len(_chart_uuids(dashboard["position"])),
                },
            )
        )
    return specs
