"""The asset bundle under superset/assets: loading it, saved query contexts, the ZIP Superset imports.

Connection details are filled in at provisioning time and never live in git: the database URI, each
dataset's catalog, and each chart's query_context when it is null. The URI names the admin's reader role
and no password: Superset's connection mutator (dashboards/mutators.py) logs in as the asking person's
role and reads its password from TRACKTRACKER_HOME/secrets when it connects, so no password is ever
stored in Superset or sent through its API (whose action log keeps request payloads).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from tracktracker_assets.warehouse.access import READER_ROLE

ASSETS_DIR = Path(__file__).resolve().parents[2] / "superset" / "assets"

Bundle = dict[str, dict[str, Any]]

# libyaml's safe loader and dumper where PyYAML has them (its wheels do): the pure-Python ones took
# ~0.9 s to read the bundle (twice in each provisioning, and in every process that loads the
# definitions) and ~0.5 s to write its ZIP; these take under 0.1 s each, reading and writing the same YAML
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_bundle(assets_dir: Path = ASSETS_DIR) -> Bundle:
    """Every YAML file of the bundle by its path relative to assets_dir (`charts/x.yaml`, ...)."""
    bundle = {
        path.relative_to(assets_dir).as_posix(): yaml.load(path.read_text(), Loader=SAFE_LOADER)
        for path in sorted(assets_dir.rglob("*.yaml"))
    }
    if "metadata.yaml" not in bundle:
        raise RuntimeError(f"{assets_dir} has no metadata.yaml: it is not a Superset asset bundle.")
    return bundle


def datasets_by_uuid(bundle: Bundle) -> dict[str, dict[str, Any]]:
    return {str(c["uuid"]): c for name, c in bundle.items() if name.startswith("datasets/")}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _temporal(dataset: dict[str, Any], column: str) -> bool:
    return any(c["column_name"] == column and c.get("is_dttm") for c in dataset.get("columns", []))


def _filters(params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], str]:
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
    return filters, where, time_range


def _shape(
    params: dict[str, Any], dataset: dict[str, Any]
) -> tuple[list[Any], list[Any] | None, list[list[Any]]]:
    """(columns, metrics, orderby) of the one query a chart of this viz type runs."""
    viz = params["viz_type"]
    metrics = _as_list(params.get("metrics")) or _as_list(params.get("metric"))
    groupby = _as_list(params.get("groupby"))
    if viz == "table" and params.get("query_mode") == "raw":
        order = [json.loads(item) for item in params.get("order_by_cols") or []]
        return list(params["all_columns"]), None, order  # no metrics: rows as they are, no GROUP BY
    if viz == "table":
        sort = params.get("timeseries_limit_metric")
        return groupby, metrics, [[sort, not params.get("order_desc", True)]] if sort else []
    if viz == "world_map":
        return [params["entity"]], metrics, [[metrics[0], False]]
    if viz == "pie":
        return groupby, metrics, [[metrics[0], False]] if params.get("sort_by_metric") else []
    if viz == "heatmap_v2":
        return [params["x_axis"], *groupby], metrics, []
    x_axis = params.get("x_axis")
    if x_axis and _temporal(dataset, x_axis):
        axis = {
            "timeGrain": params.get("time_grain_sqla"),
            "columnType": "BASE_AXIS",
            "sqlExpression": x_axis,
            "label": x_axis,
            "expressionType": "SQL",
        }
        return [axis, *groupby], metrics, []
    if x_axis:  # categorical axis: the largest first, as the frontend asks (it sorts for display itself)
        return [x_axis, *groupby], metrics, [[metrics[0], False]]
    return groupby, metrics, []


def build_query_context(params: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """A chart's query context from its form data: the rows it shows, before any client-side pivot.

    Superset needs a saved query context for GET /api/v1/chart/{id}/data and for reports; the
    frontend builds its own when it renders. The datasource id is a placeholder the import replaces.
    """
    columns, metrics, orderby = _shape(params, dataset)
    filters, where, time_range = _filters(params)
    query = {
        "columns": columns,
        "metrics": metrics,
        "filters": filters,
        "orderby": orderby,
        "extras": {"having": "", "where": " AND ".join(where)},
        "row_limit": params.get("row_limit") or 10000,
        "time_range": time_range,
        "annotation_layers": [],
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    if params.get("time_grain_sqla"):
        query["extras"]["time_grain_sqla"] = params["time_grain_sqla"]
    return {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def reader_sqlalchemy_uri(warehouse_url: str) -> str:
    """The warehouse URL with the reader role as user and no password (the mutator adds it)."""
    parts = urlsplit(warehouse_url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"postgresql+psycopg2://{READER_ROLE}@{host}{port}{parts.path}{query}"


def rendered(bundle: Bundle, warehouse_url: str) -> Bundle:
    """The bundle with connection, catalog and query contexts filled in."""
    catalog = unquote(urlsplit(warehouse_url).path.lstrip("/"))
    datasets = datasets_by_uuid(bundle)
    out: Bundle = {}
    for name, config in bundle.items():
        config = dict(config)
        if name.startswith("databases/"):
            config["sqlalchemy_uri"] = reader_sqlalchemy_uri(warehouse_url)
        if name.startswith("datasets/"):
            # Superset 6 treats a PostgreSQL database as a catalog and SQL Lab's access check matches
            # datasets by catalog exactly: a dataset without one is invisible to it.
            config["catalog"] = catalog
        dataset = datasets.get(str(config.get("dataset_uuid")))
        if name.startswith("charts/") and not config.get("query_context") and dataset:
            # (a chart naming an unknown dataset is left for Superset's import to refuse, with its message)
            config["query_context"] = json.dumps(build_query_context(config["params"], dataset))
        out[name] = config
    return out


def fingerprint(bundle: Bundle, warehouse_url: str) -> str:
    """Changes whenever an import would change something: the bundle or the connection."""
    material = json.dumps(rendered(bundle, warehouse_url), sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def bundle_zip(bundle: Bundle, warehouse_url: str) -> bytes:
    """The bundle as the ZIP Superset's import API takes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, config in rendered(bundle, warehouse_url).items():
            archive.writestr(f"tracktracker/{name}", yaml.dump(config, Dumper=SAFE_DUMPER, sort_keys=False))
    return buffer.getvalue()
