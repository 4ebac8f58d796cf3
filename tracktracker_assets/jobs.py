"""Jobs. All run their steps in one process: each step subprocess would re-import everything (~10 s).

Runs launched by the daemon execute with `tracked_in_process_executor`: Dagster's in-process executor
that first records its process on the run and claims the run's pool slots with a bounded, interruptible
wait (tracktracker_assets/runs.py says why). The CLI's runs (execute_in_process, which replaces a job's
executor) get the same through tracktracker_assets/runner.py.
"""

from collections.abc import Iterator

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    InitExecutorContext,
    RunsFilter,
    define_asset_job,
    executor,
    in_process_executor,
)
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.storage.dagster_run import DagsterRun
from dagster._utils.interrupts import pop_captured_interrupt

from tracktracker_assets import runs
from tracktracker_assets.checks import fct_plays_no_duplicate_events, fct_plays_reconciles_with_bronze


def _raise_captured_interrupt() -> None:
    # Dagster turns SIGINT/SIGTERM into a flag outside user code; a wait here must honour it
    if pop_captured_interrupt():
        raise DagsterExecutionInterruptedError()


class TrackedInProcessExecutor(InProcessExecutor):
    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        from tracktracker_assets.settings import get_settings

        instance, run_id = plan_context.instance, plan_context.run_id
        instance.add_run_tags(run_id, runs.this_process_tags())
        steps = runs.pooled_steps(
            (step.key, step.pool) for step in execution_plan.get_steps_to_execute_in_topo_order()
        )
        try:
            runs.reclaim_stale_runs(instance)
            runs.claim_pool_slots(
                instance,
                run_id,
                steps,
                timeout_s=get_settings().busy_wait_s,
                on_wait=lambda message: instance.report_engine_event(message, plan_context.dagster_run),
                check_interrupt=_raise_captured_interrupt,
            )
            yield from super().execute(plan_context, execution_plan)
        finally:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)


@executor(name="in_process", config_schema=in_process_executor.config_schema)
def tracked_in_process_executor(init_context: InitExecutorContext) -> TrackedInProcessExecutor:
    """Dagster's in-process executor, recording its process and claiming pool slots before steps run."""
    config = init_context.executor_config
    return TrackedInProcessExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        step_dependency_config=StepDependencyConfig.from_config(config.get("step_dependency_config")),  # type: ignore[arg-type]
    )


import_exports_job = define_asset_job(
    name="import_exports",
    selection=AssetSelection.assets(["bronze", "spotify_extended_history"]).upstream(depth=0)
    | AssetSelection.assets(
        AssetKey(["bronze", "spotify_account_history"]), AssetKey(["bronze", "loaded_files"])
    ),
    executor_def=tracked_in_process_executor,
    description="Load the files waiting in the users' inboxes into bronze.",
    tags={"tracktracker/kind": "load"},
)

# invariants that read whole tables: a daily job, not every refresh (whose cost must follow new rows)
WAREHOUSE_CHECKS = AssetSelection.checks(fct_plays_reconciles_with_bronze, fct_plays_no_duplicate_events)

refresh_job = define_asset_job(
    name="refresh_warehouse",
    selection=(
        AssetSelection.assets(AssetKey(["bronze", "registry_users"]))
        | AssetSelection.groups("silver", "gold")
    )
    - WAREHOUSE_CHECKS,
    executor_def=tracked_in_process_executor,
    description="Mirror the registry's users, then build silver and gold incrementally with dbt.",
    tags={"tracktracker/kind": "refresh"},
)

warehouse_checks_job = define_asset_job(
    name="warehouse_checks",
    selection=WAREHOUSE_CHECKS,
    executor_def=tracked_in_process_executor,
    description="Whole-warehouse invariants: bronze reconciles with gold, no duplicate events.",
    tags={"tracktracker/kind": "checks"},
)

pull_job = define_asset_job(
    name="pull_recently_played",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_recently_played"])),
    executor_def=tracked_in_process_executor,
    description="Pull Spotify recently-played for the run's users into bronze.",
    tags={"tracktracker/kind": "pull"},
)

enrich_job = define_asset_job(
    name="enrich_catalog",
    selection=AssetSelection.assets(AssetKey(["bronze", "spotify_catalog"])),
    executor_def=tracked_in_process_executor,
    description="Fetch catalog details for tracks, albums and artists seen but not yet known.",
    tags={"tracktracker/kind": "enrich"},
)


def job_in_flight(instance: DagsterInstance, job_name: str) -> DagsterRun | None:
    """A run of this job that is queued, starting or running (sensors then leave the work to it).

    Runs whose process is gone are reclaimed first: a run left STARTED by a killed process would
    otherwise make the sensors wait for it forever.
    """
    runs.reclaim_stale_runs(instance)
    in_flight = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    found = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=in_flight), limit=1)
    return found[0] if found else None
