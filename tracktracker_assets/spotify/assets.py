"""bronze/spotify_recently_played: every connected user's recently-played items, pulled per user.

Partitioned by user; a schedule tick pulls every connected user in ONE run (single-run backfill
policy) with bounded concurrency. One user's fault (rate limit, revoked consent, 5xx, timeout, an
unreadable answer) is that user's outcome, never the others' failure: the run succeeds and its
metadata carries every outcome as JSON under PULLS_METADATA (what the CLI reads) and as a Markdown
table for the UI. Two checks ride along: plays lost between polls (the gap check) and per-user
freshness.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource
from tracktracker_assets.spotify.pull import PullOutcome, pull_users

RECENTLY_PLAYED = AssetKey(["bronze", "spotify_recently_played"])
PULLS_METADATA = "pulls"  # one PullOutcome.as_record() per user
# set by `tracktracker pull USER...`: the run's partition range may hold other connected users
PULL_USERS_TAG = "tracktracker/pull-users"


def _cell(value: object) -> str:
    return str(value or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(outcomes: list[PullOutcome]) -> str:
    rows = [
        "| user | status | items | new | oldest | newest | gap (min) | message |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        gap = f"{o.gap_seconds / 60:.1f}" if o.gap_seconds else ""
        rows.append(
            f"| {o.user_id} | {o.status} | {o.items} | {o.inserted} | {o.oldest or ''} | {o.newest or ''} "
            f"| {gap} | {_cell(o.message)} |"
        )
    return "\n".join(rows)


@multi_asset(
    name="spotify_recently_played",
    specs=[
        AssetSpec(
            RECENTLY_PLAYED,
            description="Web API recently-played items as received, one per user and played_at.",
            kinds={"python", "postgres"},
        )
    ],
    check_specs=[
        AssetCheckSpec(
            "no_plays_lost_between_polls",
            asset=RECENTLY_PLAYED,
            description="A pull that returned 50 items whose oldest is newer than the last stored play "
            "means plays were lost between polls (Spotify keeps only the newest 50).",
        ),
        AssetCheckSpec(
            "pulls_are_fresh",
            asset=RECENTLY_PLAYED,
            description="Every connected, active user was pulled successfully within three intervals.",
        ),
    ],
    partitions_def=users_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bronze",
    can_subset=False,
)
def spotify_recently_played(
    context: AssetExecutionContext, warehouse: WarehouseResource, registry: RegistryResource
) -> Any:
    settings = warehouse.settings()
    in_run = set(context.partition_keys)  # resolving a range reads Dagster's storage: once
    if PULL_USERS_TAG in context.run.tags:
        in_run &= set(context.run.tags[PULL_USERS_TAG].split(","))

    def report(outcome: PullOutcome) -> None:
        if outcome.status in ("failed", "needs_reauth"):
            context.log.warning(f"{outcome.user_id}: {outcome.status}: {outcome.message}")

    with registry.open() as reg:
        candidates = [u.user_id for u in reg.connected_users() if u.user_id in in_run]
        outcomes = pull_users(
            settings,
            candidates,
            registry=reg,
            connect_warehouse=lambda: warehouse.connect(application="tracktracker-pull"),
            on_outcome=report,
        )
    statuses = Counter(o.status for o in outcomes)
    context.log.info(f"pulled {len(outcomes)} users: {dict(statuses)}")
    yield MaterializeResult(
        asset_key=RECENTLY_PLAYED,
        metadata={
            "users_pulled": len(outcomes),
            "rows_loaded": sum(o.inserted for o in outcomes),
            **{f"users_{status}": count for status, count in statuses.items()},
            PULLS_METADATA: MetadataValue.json([o.as_record() for o in outcomes]),
            "outcomes": MetadataValue.md(_table(outcomes)),
        },
    )
    gaps = [o for o in outcomes if o.lost_plays]
    yield AssetCheckResult(
        check_name="no_plays_lost_between_polls",
        asset_key=RECENTLY_PLAYED,
        passed=not gaps,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "users_with_gaps": len(gaps),
            "largest_gap_minutes": max((o.gap_seconds or 0) / 60 for o in gaps) if gaps else 0.0,
            "gaps": MetadataValue.md("\n".join(f"- {o.user_id}: {o.message}" for o in gaps) or "none"),
        },
    )
    yield _freshness(settings, warehouse, registry)


def _freshness(settings: Any, warehouse: WarehouseResource, registry: RegistryResource) -> AssetCheckResult:
    limit = datetime.now(UTC) - timedelta(minutes=3 * settings.pull_interval_min)
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "select user_id, max(pulled_at) filter (where status = 'ok') "
            "from bronze.spotify_pulls group by user_id"
        )
        last_ok = dict(cur.fetchall())
    # read after the pull: users it marked needs_reauth are no longer expected to be fresh
    with registry.open() as reg:
        active = [u.user_id for u in reg.connected_users() if u.status == "active"]
    stale = [u for u in active if last_ok.get(u) is None or last_ok[u] < limit]
    return AssetCheckResult(
        check_name="pulls_are_fresh",
        asset_key=RECENTLY_PLAYED,
        passed=not stale,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "stale_users": len(stale),
            "stale": MetadataValue.md(
                "\n".join(f"- {u}: last good pull {last_ok.get(u) or 'never'}" for u in stale) or "none"
            ),
        },
    )


CATALOG = AssetKey(["bronze", "spotify_catalog"])


@multi_asset(
    name="spotify_catalog",
    specs=[
        AssetSpec(
            CATALOG,
            # it reads gold.dim_track to find unknown tracks, but is upstream of it (dims are enriched
            # from it), so that read is deliberately not a dependency: it would make a cycle
            description="Track, album and artist payloads from the Web API (one id per request).",
            kinds={"python", "postgres"},
            deps=[RECENTLY_PLAYED],
        )
    ],
    group_name="bronze",
)
def spotify_catalog(
    context: AssetExecutionContext, warehouse: WarehouseResource, registry: RegistryResource
) -> Any:
    """Fetch what the warehouse has seen and the catalog lacks, within a request budget per run."""
    from tracktracker_assets.spotify.enrich import enrich

    settings = warehouse.settings()
    with warehouse.connection() as conn, registry.open() as reg:
        outcome = enrich(settings, conn, reg)
    if outcome.message:
        context.log.info(outcome.message)
    yield MaterializeResult(
        asset_key=CATALOG,
        metadata={
            "requests": outcome.requests,
            "requests_per_second": round(outcome.requests_per_second, 1),
            "tracks": outcome.fetched["track"],
            "albums": outcome.fetched["album"],
            "artists": outcome.fetched["artist"],
            "from_recently_played": outcome.from_recently_played,
            "not_found": outcome.not_found,
            "errors": outcome.errors,
            "deferred_retry_after_s": outcome.deferred_retry_after_s or 0,
            "note": outcome.message or "complete",
        },
    )
