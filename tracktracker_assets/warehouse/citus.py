"""Where each warehouse table lives on Citus (distributed PostgreSQL), and the SQL that puts it there.

dbt's models declare it in `meta.distribution` (dbt/dbt_project.yml explains the kinds); the tables
Python creates (bronze, tt_security) are listed here. Every per-user table is distributed by user_id in
one co-location group anchored on gold.fct_plays, so a listener's rows of every table share a node and
per-user joins stay on it; catalog, calendar and registry tables are reference tables (a copy on every
node); bookkeeping stays local on the coordinator.

`python -m tracktracker_assets.warehouse.citus > deploy/citus/distribute.sql` writes the SQL (reference
tables first, then the anchor, then the tables co-located with it); tests/test_citus_ready.py checks
the committed file is current and runs it against the real tables.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("distributed", "reference", "local")
DISTRIBUTION_COLUMN = "user_id"
ANCHOR = "gold.fct_plays"
DBT_SCHEMAS = ("silver", "gold")


@dataclass(frozen=True)
class Distribution:
    relation: str  # schema.name
    kind: str  # distributed | reference | local
    column: str | None = None  # distributed: the distribution column
    colocate_with: str | None = None  # distributed: schema.name of the co-location anchor
    is_view: bool = False  # views are not distributed themselves; Citus plans them over their tables
    reason: str | None = None


def _distributed(relation: str) -> Distribution:
    return Distribution(relation, "distributed", DISTRIBUTION_COLUMN, ANCHOR)


def _reference(relation: str, reason: str) -> Distribution:
    return Distribution(relation, "reference", reason=reason)


def _local(relation: str, reason: str) -> Distribution:
    return Distribution(relation, "local", reason=reason)


# The tables created by Python (warehouse/schema.py and each room's bronze.py; warehouse/access.py).
# Every bronze table with a user_id is distributed by it; tests/test_citus_ready.py fails on a table
# missing from this list.
PYTHON_TABLES: tuple[Distribution, ...] = (
    *(
        _distributed(f"bronze.{name}")
        for name in (
            "loaded_files",
            "spotify_extended_history",
            "spotify_account_history",
            "spotify_recently_played",
            "spotify_pulls",
            "apple_music_play_activity",
            "apple_music_track_play_history",
            "apple_music_daily_tracks",
            "apple_music_recently_played",
            "apple_music_library_tracks",
            "youtube_music_watch_history",
            "deezer_listening_history",
            "tidal_streaming",
            "lastfm_scrobbles",
            "lastfm_recent_tracks",
            "lastfm_pulls",
            "listenbrainz_listens",
            "listenbrainz_api_listens",
            "listenbrainz_pulls",
            "dbt_fact_days",
        )
    ),
    _reference("bronze.registry_users", "one small row per listener, joined by every per-user model"),
    _reference(
        "bronze.erasures",
        "a finished erasure keeps no user_id (a distribution column cannot be null); one row per erasure",
    ),
    _reference("bronze.spotify_catalog", "catalog payloads, shared by every listener's plays"),
    _reference("bronze.musicbrainz_recordings", "catalog answers, shared by every listener's plays"),
    _reference(
        "tt_security.listener_roles",
        "the row-security function reads it on whichever node evaluates a listener's policy",
    ),
    _reference("tt_security.friendships", "pairs of listeners: a comparison reads both sides"),
    _local("bronze.dbt_state", "build bookkeeping, read and written by the coordinator only"),
    _local("bronze.schema_migrations", "migration bookkeeping, read and written by the coordinator only"),
    _local("tt_security.applied", "access-control bookkeeping, read and written by the coordinator only"),
)


class DistributionError(ValueError):
    """A model's meta.distribution is missing or inconsistent (the message names it and the fix)."""


def dbt_distributions(manifest: dict[str, Any]) -> list[Distribution]:
    """meta.distribution of every silver and gold model of dbt's parsed manifest."""
    models = [
        n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] in DBT_SCHEMAS
    ]
    relation_of = {n["name"]: f"{n['schema']}.{n.get('alias') or n['name']}" for n in models}
    found = []
    for node in sorted(models, key=lambda n: relation_of[n["name"]]):
        name, relation = node["name"], relation_of[node["name"]]
        meta = (node["config"].get("meta") or {}).get("distribution")
        hint = f"{name}: set meta.distribution in its YAML or in dbt_project.yml (kinds: {', '.join(KINDS)})"
        if not isinstance(meta, dict) or meta.get("kind") not in KINDS:
            raise DistributionError(f"{hint}; found {meta!r}")
        kind = meta["kind"]
        is_view = node["config"].get("materialized") == "view"
        if kind == "distributed":
            anchor = meta.get("colocate_with")
            if meta.get("column") != DISTRIBUTION_COLUMN or anchor not in relation_of:
                raise DistributionError(
                    f"{hint}; a distributed model names column: {DISTRIBUTION_COLUMN} and colocate_with: "
                    f"a model (the anchor, {ANCHOR.split('.')[1]}), found {meta!r}"
                )
            reason = meta.get("reason")
            found.append(
                Distribution(relation, kind, DISTRIBUTION_COLUMN, relation_of[anchor], is_view, reason)
            )
        else:
            if kind == "local" and not meta.get("reason"):
                raise DistributionError(f"{hint}; a local model says why in meta.distribution.reason")
            found.append(Distribution(relation, kind, is_view=is_view, reason=meta.get("reason")))
    return found


def all_distributions(manifest: dict[str, Any]) -> list[Distribution]:
    """Every table and view of the warehouse: Python's tables and dbt's models."""
    everything = [*PYTHON_TABLES, *dbt_distributions(manifest)]
    anchors = {d.colocate_with for d in everything if d.kind == "distributed"}
    if anchors != {ANCHOR}:
        raise DistributionError(f"every distributed table is co-located with {ANCHOR}: {sorted(anchors)}")
    anchor = next((d for d in everything if d.relation == ANCHOR), None)
    if anchor is None or anchor.kind != "distributed" or anchor.is_view:
        raise DistributionError(f"the co-location anchor {ANCHOR} must be a distributed table")
    return everything


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _distribute(relation: str, column: str, colocate_with: str) -> str:
    args = f"{_literal(relation)}, {_literal(column)}, colocate_with => {_literal(colocate_with)}"
    return f"SELECT create_distributed_table({args});"


def distribute_sql(manifest: dict[str, Any]) -> str:
    """The statements that distribute the warehouse, in an order Citus accepts."""
    everything = all_distributions(manifest)
    tables = [d for d in everything if not d.is_view]
    lines = [
        "-- Generated by `python -m tracktracker_assets.warehouse.citus > deploy/citus/distribute.sql` from",
        "-- dbt's meta.distribution and tracktracker_assets/warehouse/citus.py: edit those, not this file.",
        "-- Run once on the Citus coordinator after the first build (psql -v ON_ERROR_STOP=1 -f ...), and",
        "-- again after a full refresh or for models dbt recreates on every build (materialized: table):",
        "-- docs/scale-out.md.",
        "",
        "-- reference tables: a copy on every node, joinable with any shard",
    ]
    references = [d.relation for d in tables if d.kind == "reference"]
    lines += [f"SELECT create_reference_table({_literal(relation)});" for relation in references]
    lines += ["", "-- distributed by user_id: the anchor first, then the tables co-located with it"]
    lines.append(_distribute(ANCHOR, DISTRIBUTION_COLUMN, "none"))
    lines += [
        _distribute(d.relation, d.column or "", d.colocate_with or "")
        for d in tables
        if d.kind == "distributed" and d.relation != ANCHOR
    ]
    lines += ["", "-- local tables, left on the coordinator:"]
    lines += [f"--   {d.relation}: {d.reason}" for d in tables if d.kind == "local"]
    lines += ["", "-- views (Citus plans them over the tables they read), by where their rows come from:"]
    for d in everything:
        if d.is_view:
            why = f" ({' '.join(d.reason.split())})" if d.kind == "local" and d.reason else ""
            lines.append(f"--   {d.relation}: {d.kind}{why}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print deploy/citus/distribute.sql, parsing the dbt project first if its manifest is stale."""
    from tracktracker_assets.settings import Settings
    from tracktracker_assets.transform.project import ensure_manifest

    args = sys.argv[1:] if argv is None else argv
    manifest_path = Path(args[0]) if args else ensure_manifest(Settings.from_env())
    try:
        sys.stdout.write(distribute_sql(json.loads(manifest_path.read_text())))
    except DistributionError as error:
        print(f"cannot write the Citus distribution: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
