"""What a dbt model is unique by, read from the manifest: dbt's unique_key, its unique indexes, and its
uniqueness data tests (tests/test_citus_ready.py, tests/test_play_models_unique.py)."""

from __future__ import annotations

from typing import Any


def unique_keys(manifest: dict[str, Any], node: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Every key a model is unique by, as (how, columns): unique_key, index or unique test."""
    keys = []
    unique_key = node["config"].get("unique_key")
    if unique_key:
        keys.append(("unique_key", [unique_key] if isinstance(unique_key, str) else list(unique_key)))
    keys += [("index", list(i["columns"])) for i in node["config"].get("indexes") or [] if i.get("unique")]
    for test in manifest["nodes"].values():
        meta = test.get("test_metadata") or {}
        if test["resource_type"] != "test" or test.get("attached_node") != node["unique_id"]:
            continue
        if meta.get("name") == "unique":
            keys.append(("unique test", [meta["kwargs"]["column_name"]]))
        elif meta.get("name") == "unique_combination_of_columns":
            keys.append(("unique test", list(meta["kwargs"]["combination_of_columns"])))
    return keys
