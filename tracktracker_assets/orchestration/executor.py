"""The executor every job runs with: all steps in one process (each step subprocess would re-import
everything, ~10 s).

Runs launched by the daemon execute with `tracked_in_process_executor`: Dagster's in-process executor
that first records its process on the run and claims the run's pool slots with a bounded, interruptible
wait (liveness.py says why). The CLI's runs (execute_in_process, which replaces a job's executor) get
the same through runs.py.
"""

from collections.abc import Iterator

from dagster import InitExecutorContext, executor, in_process_executor
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import pop_captured_interrupt

from tracktracker_assets.orchestration import liveness


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
