"""The executor every job runs with, chosen when a run starts (TRACKTRACKER_EXECUTOR).

`in_process` (the default): all steps in the run's process (each step subprocess would re-import
everything, ~10 s). `celery`: the pull, import and enrichment jobs send each step to Celery workers
(`tracktracker worker`, workers.py says how a worker that dies is handled); the refresh and the checks
stay in the run's process, one at a time, whatever the setting.

Either way the run first records the process orchestrating it (liveness tags: a run whose process died
is reclaimed) and claims its pool slots with a bounded, interruptible wait (liveness.py says why). The
CLI's runs (execute_in_process, which replaces a job's executor) get the same through runs.py and
always run in process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster import (
    ExecutorRequirement,
    InitExecutorContext,
    executor,
    in_process_executor,
    multiple_process_executor_requirements,
)
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._utils.interrupts import pop_captured_interrupt
from dagster_celery.executor import CeleryExecutor

from tracktracker_assets.orchestration import liveness

KIND_TAG = "tracktracker/kind"
# jobs whose steps go to the workers with TRACKTRACKER_EXECUTOR=celery: per-user work that may run
# side by side; the refresh ("refresh") and the checks stay single and in process
CELERY_KINDS = frozenset({"pull", "load", "enrich"})


def _raise_captured_interrupt() -> None:
    # Dagster turns SIGINT/SIGTERM into a flag outside user code; a wait here must honour it
    if pop_captured_interrupt():
        raise DagsterExecutionInterruptedError()


@contextlib.contextmanager
def _tracked(plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[None]:
    """Record the orchestrating process on the run and hold the run's pool slots while it executes."""
    from tracktracker_assets.settings import get_settings

    instance, run_id = plan_context.instance, plan_context.run_id
    instance.add_run_tags(run_id, liveness.this_process_tags())
    steps = liveness.pooled_steps(
        (step.key, step.pool) for step in execution_plan.get_steps_to_execute_in_topo_order()
    )
    try:
        liveness.reclaim_stale_runs(instance)
        liveness.claim_pool_slots(
            instance,
            run_id,
            steps,
            timeout_s=get_settings().busy_wait_s,
            on_wait=lambda message: instance.report_engine_event(message, plan_context.dagster_run),
            check_interrupt=_raise_captured_interrupt,
        )
        yield
    finally:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


class TrackedInProcessExecutor(InProcessExecutor):
    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        with _tracked(plan_context, execution_plan):
            yield from super().execute(plan_context, execution_plan)


class TrackedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor: this process sends the steps and gathers their events, workers run
    them; a step whose worker died is sent again (workers.WatchedStep)."""

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        from dagster_celery.core_execution_loop import core_celery_execution_loop
        from dagster_celery.executor import _submit_task

        from tracktracker_assets.orchestration.workers import WatchedStep
        from tracktracker_assets.settings import get_settings

        def submit(app: Any, context: Any, step: Any, queue: str, priority: int, known_state: Any) -> Any:
            def on_lost(hostname: str) -> None:
                context.instance.report_engine_event(
                    f"Celery worker {hostname} stopped answering while it ran step {step.key!r}: the worker "
                    "is gone; the step was sent again to another worker.",
                    context.dagster_run,
                    step_key=step.key,
                )

            return WatchedStep(
                app,
                lambda: _submit_task(app, context, step, queue, priority, known_state),
                on_lost,
                what=f"step {step.key!r} ({_listeners(context.dagster_run.tags)})",
                no_worker_s=get_settings().celery_no_worker_s,
            )

        with _tracked(plan_context, execution_plan):
            yield from core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)


def _listeners(tags: Mapping[str, str]) -> str:
    """The run's listeners as its tags name them (one partition, or a range)."""
    first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if first and last:
        return f"listener {first}" if first == last else f"listeners {first} to {last}"
    partition = tags.get(PARTITION_NAME_TAG)
    return f"listener {partition}" if partition else "every listener of the run"


def _requirements(_config: object) -> Sequence[ExecutorRequirement]:
    from tracktracker_assets.settings import get_settings

    # workers rebuild the job from its module and read the run from the instance's storage
    return multiple_process_executor_requirements() if get_settings().executor == "celery" else []


@executor(name="tracktracker", config_schema=in_process_executor.config_schema, requirements=_requirements)
def tracktracker_executor(init_context: InitExecutorContext) -> Executor:
    """In process, or on Celery workers for the pull, import and enrichment jobs (TRACKTRACKER_EXECUTOR)."""
    from tracktracker_assets.orchestration import workers
    from tracktracker_assets.settings import get_settings

    config = init_context.executor_config
    retries = RetryMode.from_config(config["retries"])
    settings = get_settings()
    kind = init_context.job.get_definition().tags.get(KIND_TAG)
    if settings.executor == "celery" and kind in CELERY_KINDS:
        return TrackedCeleryExecutor(retries=retries, **workers.app_args(settings))  # type: ignore[arg-type]
    return TrackedInProcessExecutor(
        retries=retries,  # type: ignore[arg-type]
        step_dependency_config=StepDependencyConfig.from_config(config.get("step_dependency_config")),  # type: ignore[arg-type]
    )
