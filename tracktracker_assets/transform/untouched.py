"""Staging tables that no new load reaches: a refresh leaves them, and their data tests, out; and
the data tests of staging tables that have nothing to test.

A staging model kept by load (incremental, reading one bronze table, only the loads newer than the
highest load_id it holds: `only_new_loads()` or `watermark('load_id')` in its SQL) has nothing to do
while its bronze table holds no such load. dbt would still run it, to insert nothing, and then
re-test the whole table (a unique test over a million staged plays takes seconds), on every refresh,
for every service the listener never used since. Leaving such a model out changes no row: it is
the same check the model's own SQL makes, made before dbt starts.

Only while these models are as the last successful build ran them: their SQL, config and the
project's macros are stamped after it (bronze.dbt_state), and a change runs every one once, since an
incremental model takes a new column only when it runs. The caller reads the newest load before
asking (transform/assets.py): a load that lands after the question is either seen here or left to
the next refresh, never marked as built.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg2 import sql

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.manifest import read_manifest
from tracktracker_assets.transform.views import is_static, project_macros
from tracktracker_assets.warehouse.build_state import STAGED_BY_LOAD, get_state, set_state
from tracktracker_assets.warehouse.db import connect, lent_or_own

# how a staging model's SQL reads only the loads newer than its own (macros/staged_by_load.sql,
# macros/watermark.sql)
LOAD_WATERMARKS = ("only_new_loads()", "watermark('load_id')")


@dataclass(frozen=True)
class StagedByLoad:
    model: str  # dbt's name for it, as `--exclude` takes it
    schema: str
    table: str
    source_schema: str
    source_table: str
    definition: str  # its SQL's checksum and its config


def staged_by_load(manifest: dict[str, Any]) -> list[StagedByLoad]:
    """The incremental models that read exactly one source, by load id."""
    sources = manifest.get("sources", {})
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("materialized") != "incremental":
            continue
        parents = node["depends_on"]["nodes"]
        if len(parents) != 1 or parents[0] not in sources:
            continue
        if not any(mark in node.get("raw_code", "") for mark in LOAD_WATERMARKS):
            continue
        source = sources[parents[0]]
        found.append(
            StagedByLoad(
                model=node["name"],
                schema=node["schema"],
                table=node["alias"] or node["name"],
                source_schema=source["schema"],
                source_table=source["identifier"] or source["name"],
                definition=json.dumps(
                    [node["checksum"]["checksum"], node["config"]], sort_keys=True, default=str
                ),
            )
        )
    return sorted(found, key=lambda m: m.model)


def _fingerprint(manifest: dict[str, Any], models: list[StagedByLoad]) -> str:
    stamped = [[m.model, m.definition] for m in models]
    return hashlib.sha256(json.dumps([stamped, project_macros(manifest)]).encode()).hexdigest()


def untouched_staging(settings: Settings, manifest_path: Path, conn: Any | None = None) -> list[str]:
    """The staging models kept by load whose bronze table holds no load newer than theirs (none while
    a model or macro changed since the last successful build). conn: a connection to use instead of
    one of its own (left without a transaction)."""
    manifest = read_manifest(manifest_path)
    models = staged_by_load(manifest)
    if not models:
        return []
    with lent_or_own(settings.database_url, conn) as conn:
        if get_state(conn, STAGED_BY_LOAD) != _fingerprint(manifest, models):
            return []
        with conn.cursor() as cur:
            cur.execute(
                "select s, t from unnest(%s::text[], %s::text[]) as m (s, t) "
                "where to_regclass(format('%%I.%%I', s, t)) is not null",
                ([m.schema for m in models], [m.table for m in models]),
            )
            built = set(cur.fetchall())
            untouched = []
            for m in models:
                if (m.schema, m.table) not in built:
                    continue  # never built (or dropped): the model must run
                # one index probe each: both tables are indexed on load_id
                cur.execute(
                    sql.SQL(
                        "select not exists (select 1 from {source} where load_id > "
                        "(select coalesce(max(load_id), 0) from {staged}))"
                    ).format(
                        source=sql.Identifier(m.source_schema, m.source_table),
                        staged=sql.Identifier(m.schema, m.table),
                    )
                )
                if cur.fetchone()[0]:
                    untouched.append(m.model)
        return untouched


def tests_of_empty_staging(
    settings: Settings,
    manifest_path: Path,
    left_out: list[str],
    *,
    static_left_out: bool = False,
    conn: Any | None = None,
) -> list[str]:
    """The data tests that read only staging models without a row. A listener's first build runs every
    staging model, most of them for services nobody used (~80 data tests of empty tables and views,
    ~1 s of a first import, and on its way: dbt runs a model's children after its tests). Each data
    test here is a query for the rows that break a rule, so on an empty relation it can only pass. The
    models themselves still run; a test that also reads another model still runs.

    A staging model is empty when its relation, if built, holds no row and everything it reads is
    empty: its bronze tables, and the staging models it reads. Staging only reshapes the rows of its
    sources (no constant rows, no aggregate without a group), so over empty inputs it holds none.
    A load that lands in such a bronze table while the build runs is staged by it untested here: a
    table kept by load runs again at the next refresh (its load is new), and its tests then read the
    whole table; a view is tested whenever it is built, as before (current views are left out of
    refreshes with their tests).

    Not the tests of models left out whole (`left_out`, and the views and static tables when
    `static_left_out`): dbt leaves their tests out with them, and each name given to `--exclude` is
    one more search of the whole project before the build starts. conn: a connection to use instead of
    one of its own (left without a transaction)."""
    manifest = read_manifest(manifest_path)
    sources = manifest.get("sources", {})
    staging = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node.get("fqn", [])[1:2] == ["staging"]
        and all(parent in sources or parent.startswith("model.") for parent in node["depends_on"]["nodes"])
    }
    if not staging:
        return []
    with lent_or_own(settings.database_url, conn) as conn, conn.cursor() as cur:
        empty = _empty_staging(cur, staging, sources)
    empty -= {
        uid
        for uid, node in staging.items()
        if node["name"] in left_out or (static_left_out and is_static(node))
    }
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata")  # generic tests: each selects the rows that break its rule
        and node["depends_on"]["nodes"]
        and set(node["depends_on"]["nodes"]) <= empty
    )


def _empty_staging(cur: Any, staging: dict[str, Any], sources: dict[str, Any]) -> set[str]:
    """The staging models (of `staging`) that hold no row and read only empty relations."""
    known: dict[str, bool] = {}  # unique id -> empty

    def is_empty(uid: str) -> bool:
        if uid not in known:
            known[uid] = False  # a cycle, or a model not of staging: not known to be empty
            if uid in sources:
                source = sources[uid]
                known[uid] = _relation_empty(cur, source["schema"], source["identifier"] or source["name"])
            elif uid in staging:
                node = staging[uid]
                known[uid] = all(is_empty(parent) for parent in node["depends_on"]["nodes"]) and (
                    _relation_empty(cur, node["schema"], node["alias"] or node["name"], missing=True)
                )
        return known[uid]

    return {uid for uid in staging if is_empty(uid)}


def _relation_empty(cur: Any, schema: str, name: str, *, missing: bool = False) -> bool:
    """Whether the table or view holds no row; `missing` when it does not exist (yet)."""
    relation = sql.Identifier(schema, name)
    cur.execute("select to_regclass(%s) is not null", (relation.as_string(cur),))
    if not cur.fetchone()[0]:
        return missing
    cur.execute(sql.SQL("select not exists (select 1 from {})").format(relation))
    return bool(cur.fetchone()[0])


def mark_staging_built(settings: Settings, manifest_path: Path) -> None:
    """Stamp the staging models kept by load as this successful build ran them."""
    manifest = read_manifest(manifest_path)
    conn = connect(settings.database_url)
    try:
        set_state(conn, STAGED_BY_LOAD, _fingerprint(manifest, staged_by_load(manifest)))
    finally:
        conn.close()
