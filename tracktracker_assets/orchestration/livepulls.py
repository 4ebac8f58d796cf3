"""The Last.fm and ListenBrainz pull assets' shared body: one run pulls every listener of the run's
partitions who has an account of that service; one listener's fault is their outcome, never the run's.

Run metadata: every outcome as JSON under PULLS_METADATA (what `tracktracker pull` prints, next to
Spotify's) and as a Markdown table for the UI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.registry import Registry
from tracktracker_assets.warehouse.livepulls import PROBLEM_STATUSES, LiveOutcome, pull_many

PULLS_METADATA = "pulls"
# the same tag as Spotify's pull (spotify/assets.py): the users `tracktracker pull USER...` named
PULL_USERS_TAG = "tracktracker/pull-users"

PullOne = Callable[[Settings, Any, Registry, str, Any], LiveOutcome]


def _cell(value: object) -> str:
    return str(value or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(outcomes: list[LiveOutcome]) -> str:
    rows = ["| user | status | pages | items | new | newest | message |", "|---|---|---|---|---|---|---|"]
    rows += [
        f"| {o.user_id} | {o.status} | {o.pages} | {o.items} | {o.inserted} | {o.newest or ''} "
        f"| {_cell(o.message)} |"
        for o in outcomes
    ]
    return "\n".join(rows)


def materialize_pulls(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    registry: RegistryResource,
    key: AssetKey,
    service: str,
    pull_one: PullOne,
) -> MaterializeResult:
    from tracktracker_assets.spotify.client import http_session

    settings = warehouse.settings()
    in_run = set(context.partition_keys)
    if PULL_USERS_TAG in context.run.tags:
        in_run &= set(context.run.tags[PULL_USERS_TAG].split(","))

    def report(outcome: LiveOutcome) -> None:
        if outcome.status in PROBLEM_STATUSES:
            context.log.warning(f"{outcome.user_id}: {service}: {outcome.status}: {outcome.message}")

    with registry.open() as reg, http_session(4) as http:
        # a listener without an account of this service is skipped quietly
        candidates = [u.user_id for u in reg.live_users(service) if u.user_id in in_run]
        outcomes = pull_many(
            candidates,
            lambda conn, user_id: pull_one(settings, conn, reg, user_id, http),
            service=service,
            connect_warehouse=lambda: warehouse.connect(application=f"tracktracker-pull-{service}"),
            registry=reg,
            on_outcome=report,
        )
    statuses = Counter(o.status for o in outcomes)
    context.log.info(f"{service}: pulled {len(outcomes)} users: {dict(statuses)}")
    return MaterializeResult(
        asset_key=key,
        metadata={
            "users_pulled": len(outcomes),
            "rows_loaded": sum(o.inserted for o in outcomes),
            **{f"users_{status}": count for status, count in statuses.items()},
            PULLS_METADATA: MetadataValue.json([o.as_record() for o in outcomes]),
            "outcomes": MetadataValue.md(_table(outcomes)),
        },
    )
