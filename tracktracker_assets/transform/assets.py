"""Silver and gold as Dagster assets, from the dbt project through dagster-dbt.

dbt sources carry `meta.dagster.asset_key` = the bronze assets' keys, so the graph is one lineage;
models are keyed [schema, name] (silver/int_plays__deduplicated, gold/fct_plays) and grouped by layer.
dbt data tests become asset checks. Unit tests are left to CI: they test SQL logic, not data.
"""

import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, AssetsDefinition, AssetSpec, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from tracktracker_assets.orchestration import progress
from tracktracker_assets.orchestration.resources import WarehouseResource
from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.project import export_dbt_env, refresh_output_options
from tracktracker_assets.transform.untouched import (
    mark_staging_built,
    tests_of_empty_staging,
    untouched_staging,
)
from tracktracker_assets.transform.views import EXCLUDE_STATIC, mark_static_nodes_built, static_nodes_current
from tracktracker_assets.warehouse.build_state import (
    BUILD_IN_PROGRESS,
    BUILT_THROUGH,
    FULL_REFRESH,
    clear_state,
    full_refresh_pending,
    set_state,
    unfinished_build,
)
from tracktracker_assets.warehouse.db import connect, connection, ended_after_use, table_exists
from tracktracker_assets.warehouse.locks import dbt_lock
from tracktracker_assets.warehouse.maintenance import (
    BULK_ROWS,
    WORTH_VACUUMING,
    WRITTEN_SINCE_VACUUM,
    VacuumAsWritten,
    vacuum_after_bulk_writes,
)
from tracktracker_assets.warehouse.status import (
    batch_outweighs_history,
    details_pending,
    newest_play_load,
    users_with_pending_loads,
)
from tracktracker_assets.warehouse.zone_moves import SILVER_PLAYS, take_in_zone_moves

KEEP_TARGET_DIRS = 20
T = TypeVar("T")


class TrackTrackerTranslator(DagsterDbtTranslator):
    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] in ("model", "seed", "snapshot"):
            layer = props["config"].get("schema") or props["schema"]
            spec = spec.replace_attributes(key=AssetKey([layer, props["name"]]), group_name=layer)
        return spec


def _prune_target_dirs(target: Path) -> None:
    """dagster-dbt gives every invocation its own target dir; keep the newest few."""
    runs = sorted((p for p in target.glob("*-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_TARGET_DIRS]:
        shutil.rmtree(old, ignore_errors=True)


def build_dbt_assets(project: DbtProject) -> AssetsDefinition:
    """Silver and gold as one multi-asset over the parsed project (built when definitions load, never
    at import: parsing takes seconds and needs the settings)."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TrackTrackerTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        exclude="test_type:unit",
        name="dbt_silver_gold",
        pool="dbt",
    )
    def dbt_silver_gold(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        yield from build_silver_gold(context, dbt, project, warehouse.settings())

    return dbt_silver_gold


# the models only a whole build of int_plays__deduplicated reads (its match rows: dbt/macros/match_rows.sql)
WHOLE_BUILD_ONLY = "tag:whole_build_only"


def build_silver_gold(
    context: AssetExecutionContext, dbt: DbtCliResource, project: DbtProject, settings: Settings
) -> Iterator[Any]:
    """Build silver and gold (models + data tests) incrementally; one dbt invocation per run.

    Cut short at any point (a kill, a crash, an interrupt) or failed, a build leaves every model as
    its last finished transaction wrote it; the next build's watermarks pick up from there, and the
    build-in-progress marker (warehouse/build_state.py), cleared only once a build succeeded, makes
    sure that next build happens and vacuums what the cut one wrote.
    """
    export_dbt_env(settings)
    selected = len(context.selected_asset_keys)
    args = ["build", *refresh_output_options(settings), "--exclude", "test_type:unit"]
    built = 0

    def waiting(message: str) -> None:
        context.log.info(message)
        progress.report(progress.Event("dbt", message, 0, selected))

    with dbt_lock(settings, run_id=context.run_id, on_wait=waiting):
        # the checks before dbt on one connection (a connection each cost ~5 ms, and a new backend's
        # first questions read the catalog again); each ends its transaction, none is left open
        with connection(settings.database_url) as checks:
            moved = _asked(checks, take_in_zone_moves)  # first: a move is then a load like any other
            if moved:
                context.log.info(f"New time zone, local days and hours recomputed: {', '.join(moved)}")
            # whose gold this build changes (their dashboards' cache is then renewed), and whether it
            # takes in catalog details (genres, years, names) that change charts
            changed = _asked(checks, users_with_pending_loads)
            details_changed = _asked(checks, details_pending)
            rebuild = _asked(checks, full_refresh_pending) or _asked(checks, batch_outweighs_history)
            skip_static = not rebuild and static_nodes_current(settings, project.manifest_path, checks)
            if skip_static:
                args += ["--exclude", EXCLUDE_STATIC]
            if rebuild:
                context.log.info(f"Rebuilding silver and gold from bronze ({rebuild}).")
                args.append("--full-refresh")
            elif _asked(checks, lambda conn: table_exists(conn, SILVER_PLAYS)):
                # the dedupe builds incrementally and computes its match rows inline: their models
                # would only write two empty tables (~0.25 s before the dedupe may start)
                args += ["--exclude", WHOLE_BUILD_ONLY]
            unfinished = _asked(checks, lambda conn: _mark_build(conn, context.run_id))
            through = _asked(checks, newest_play_load)  # before dbt starts: loads after it may be unseen
            untouched = [] if rebuild else untouched_staging(settings, project.manifest_path, checks)
            if untouched:
                context.log.info(f"No new loads for {', '.join(untouched)}: left out with their tests.")
                args += ["--exclude", " ".join(untouched)]  # one value: its selectors, space-separated
            vacuous = []
            if not rebuild:
                vacuous = tests_of_empty_staging(
                    settings, project.manifest_path, untouched, static_left_out=skip_static, conn=checks
                )
            if vacuous:
                context.log.info(f"{len(vacuous)} data tests of staging tables without a row left out.")
                args += ["--exclude", " ".join(vacuous)]
        if unfinished:
            context.log.info(f"Run {unfinished[:8]}'s build did not finish; this build completes it.")
        # each model's and test's event is recorded as dbt reports it, while dbt goes on with the next
        # ones (written after the build, ~200 events of a first build took another second); a table
        # written in bulk is vacuumed meanwhile, since no later node writes a model's table
        with (
            connection(settings.database_url, autocommit=True) as statistics,
            VacuumAsWritten(settings) as as_written,
        ):
            for event in dbt.cli(args, context=context).stream():
                if isinstance(event, Output | AssetMaterialization):
                    built += 1
                    key = _key(event)
                    progress.report(progress.Event("dbt", "/".join(key.path), built, selected))
                    event, written = _with_row_count(statistics, event)
                    if written >= BULK_ROWS:
                        as_written.submit(*key.path)
                yield event
            early = as_written.wait()
        # the rest: a cut build's (all of it), and what the statistics reported late
        rest = vacuum_after_bulk_writes(settings, min_rows=0 if unfinished else BULK_ROWS)
        vacuumed = sorted({*early, *rest})
        _unmark_build(settings, full_refresh=bool(rebuild), built_through=through)
    if vacuumed:
        context.log.info(f"Vacuumed and analyzed after a large build: {', '.join(vacuumed)}")
    from tracktracker_assets.dashboards.warm import after_refresh

    context.log.info(f"Dashboards: {after_refresh(settings, changed, details_changed=details_changed)}")
    if not skip_static:
        mark_static_nodes_built(settings, project.manifest_path)
    mark_staging_built(settings, project.manifest_path)
    _prune_target_dirs(settings.dbt_target_dir)


def _asked(conn: Any, check: Callable[[Any], T]) -> T:
    """A check's answer on the step's one connection, its transaction ended (a check that writes commits)."""
    with ended_after_use(conn):
        return check(conn)


def _mark_build(conn: Any, run_id: str) -> str | None:
    """Set the build-in-progress marker; returns the run id of a build that left one behind."""
    previous = unfinished_build(conn)
    set_state(conn, BUILD_IN_PROGRESS, run_id)
    return previous


def _unmark_build(settings: Settings, *, full_refresh: bool = False, built_through: int = 0) -> None:
    conn = connect(settings.database_url)
    try:
        if full_refresh:
            clear_state(conn, FULL_REFRESH)
        set_state(conn, BUILT_THROUGH, str(built_through))
        clear_state(conn, BUILD_IN_PROGRESS)
    finally:
        conn.close()


def _key(event: Output | AssetMaterialization) -> AssetKey:
    if isinstance(event, AssetMaterialization):
        return event.asset_key
    # an output is named by its key's parts joined by "__": a model's [layer, name], whose name may
    # hold "__" itself (silver/stg_spotify__extended_history)
    return AssetKey(event.output_name.split("__", 1))


def _with_row_count(
    conn: Any, event: Output | AssetMaterialization
) -> tuple[Output | AssetMaterialization, int]:
    """The event with its table's live rows from PostgreSQL's statistics (dbt's node has committed
    and published its statistics by then: macros/publish_statistics.sql): exact enough
    for metadata and free, where count(*) per model would grow with the history. With it, the rows
    written to the table since its last vacuum (0 for a view, and for an unlogged artefact: never
    worth vacuuming). conn: autocommit, so each question sees the statistics as they are."""
    key = _key(event)
    if len(key.path) != 2 or key.path[0] not in ("silver", "gold"):
        return event, 0
    with conn.cursor() as cur:
        cur.execute(
            f"select n_live_tup, case when {WORTH_VACUUMING} then {WRITTEN_SINCE_VACUUM} else 0 end "
            "from pg_stat_user_tables "
            "where schemaname = %s and relname = %s",
            tuple(key.path),
        )
        row = cur.fetchone()
    if row is None:
        return event, 0
    return event.with_metadata({**event.metadata, "row_count": int(row[0])}), int(row[1])
