"""The bronze export asset: loads every file waiting in the inboxes of the run's users.

Partitioned by user; a run for many users (a sensor tick, a backfill) is ONE run
(BackfillPolicy.single_run) because Python and dbt start-up cost seconds per process.
"""

import json
import time
from collections.abc import Callable, Iterator
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

from tracktracker_assets.exports import catalogue
from tracktracker_assets.exports.inbox import InboxResult, process_inbox
from tracktracker_assets.exports.loader import Progress
from tracktracker_assets.orchestration import progress
from tracktracker_assets.orchestration.partitions import users_partitions
from tracktracker_assets.orchestration.resources import WarehouseResource

EXTENDED_KEY = AssetKey(["bronze", "spotify_extended_history"])
ACCOUNT_KEY = AssetKey(["bronze", "spotify_account_history"])
MANIFEST_KEY = AssetKey(["bronze", "loaded_files"])
RESULTS_METADATA = "file_results"


def _progress_for(context: AssetExecutionContext, user_id: str) -> Callable[[str], Progress]:
    last_log = [0.0]

    def for_file(name: str) -> Progress:
        def update(records: int, bytes_read: int) -> None:
            progress.report(
                progress.Event("load", f"{user_id}: {name}", records, None, f"{bytes_read} bytes")
            )
            if time.monotonic() - last_log[0] > 10:
                last_log[0] = time.monotonic()
                context.log.info(f"{user_id}: {name}: {records:,} records read")

        return update

    return for_file


def _table(results: list[InboxResult]) -> str:
    lines = [
        "| user file | entry | status | records | new | already loaded | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        if result.left_in_inbox:
            lines.append(f"| {result.path.name} | | left in the inbox | | | | {result.left_in_inbox} |")
        if result.error:
            lines.append(f"| {result.path.name} | | rejected | | | | {result.error} |")
        for f in result.files:
            lines.append(
                f"| {result.path.name} | {f.name} | {f.status} | {f.records} | {f.inserted} | {f.duplicates} "
                f"| {f.message.replace('|', '/')} |"
            )
    return "\n".join(lines)


def _other_services_tables() -> dict[AssetKey, list[str]]:
    """Bronze tables of the other services' file formats -> the formats loading into each."""
    tables: dict[AssetKey, list[str]] = {}
    for fmt in catalogue.row_formats():
        tables.setdefault(AssetKey(fmt.table.split(".")), []).append(fmt.name)
    return tables


def _other_services_specs() -> list[AssetSpec]:
    return [
        AssetSpec(
            key,
            description="Raw rows of "
            + "; ".join(catalogue.by_name(name).description for name in names)
            + " files.",
            kinds={"python", "postgres"},
            skippable=True,
        )
        for key, names in _other_services_tables().items()
    ]


@multi_asset(
    name="spotify_exports",
    specs=[
        AssetSpec(
            EXTENDED_KEY,
            description="Extended streaming history records, raw.",
            kinds={"python", "postgres"},
            skippable=True,
        ),
        AssetSpec(
            ACCOUNT_KEY,
            description="Account data streaming history records, raw.",
            kinds={"python", "postgres"},
            skippable=True,
        ),
        *_other_services_specs(),
        AssetSpec(MANIFEST_KEY, description="Manifest of loaded export files.", kinds={"postgres"}),
    ],
    check_specs=[
        AssetCheckSpec(
            "no_rejected_files",
            asset=MANIFEST_KEY,
            description="Every file dropped in the inboxes of this run could be loaded.",
        )
    ],
    partitions_def=users_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="bronze",
    can_subset=False,
)
def spotify_exports(context: AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[Any]:
    settings = warehouse.settings()
    results: list[tuple[str, InboxResult]] = []
    with warehouse.connection() as conn:
        for user_id in context.partition_keys:
            for result in process_inbox(conn, settings, user_id, progress=_progress_for(context, user_id)):
                results.append((user_id, result))
                for problem in result.problems:
                    context.log.error(problem)
    flat = [r for _, r in results]
    inserted = {
        fmt: sum(f.inserted for r in flat for f in r.files if f.format == fmt)
        for fmt in ("spotify_extended", "spotify_account")
    }
    duplicates = sum(r.duplicates for r in flat)
    rejected = [p for r in flat for p in r.problems]
    details = json.dumps([{"user_id": u, **r.as_dict()} for u, r in results])
    common = {
        "files": len(flat),
        "duplicates_skipped": duplicates,
        "rejected": len(rejected),
        RESULTS_METADATA: MetadataValue.json(json.loads(details)),
    }
    # a bronze table is materialized by the runs that wrote rows to it; the manifest by every run
    written = {EXTENDED_KEY: inserted["spotify_extended"], ACCOUNT_KEY: inserted["spotify_account"]}
    for key, names in _other_services_tables().items():
        written[key] = sum(f.inserted for r in flat for f in r.files if f.format in names)
    for key, rows in written.items():
        if rows:
            yield MaterializeResult(asset_key=key, metadata={"rows_loaded": rows, **common})
    yield MaterializeResult(
        asset_key=MANIFEST_KEY,
        metadata={"rows_loaded": sum(written.values()), "preview": MetadataValue.md(_table(flat)), **common},
    )
    yield AssetCheckResult(
        check_name="no_rejected_files",
        asset_key=MANIFEST_KEY,
        passed=not rejected,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rejected": MetadataValue.md("\n".join(f"- {p}" for p in rejected) or "none")},
    )
