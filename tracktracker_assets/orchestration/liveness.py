"""Who runs a Dagster run, and reclaiming runs whose process is gone.

Every run records the process executing it as run tags: host, PID and the process's identity (boot
id + start time in clock ticks, so a PID reused after the run died is not mistaken for the run). A run
left STARTED by a process that was killed (SIGKILL, a crash, a power cut) is then recognised, marked
failed and its concurrency-pool slots are freed; without that, the single `dbt` slot stays taken and
every later refresh waits forever.

Runs recorded before these tags existed are judged by the PID in their events, and only when the
instance's storage is the embedded PostgreSQL (127.0.0.1 only, so every run ran on this machine).
A run on another host is never judged from here.

Waiting for a pool slot is bounded and says who holds it: Dagster's own wait (in process) spins
without sleeping and ignores interrupts, so TrackTracker claims the slots before a run executes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.storage.dagster_run import DagsterRun, RunRecord

HOST_TAG = "tracktracker/host"
PID_TAG = "tracktracker/pid"
PROCESS_TAG = "tracktracker/process"  # "<boot id>:<start time in clock ticks>"

# runs that may hold a process; QUEUED runs wait for the daemon and hold nothing
LIVE_STATUSES = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
# a slot claimed for a run id not (yet) in the run storage: the claim is made just before the run is
# created, so only an old one is a leftover of a process killed in between
UNKNOWN_RUN_GRACE_S = 60.0
WAIT_POLL_S = 0.5
RECLAIM_EVERY_S = 5.0


# ---- processes ------------------------------------------------------------------------------------
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the command name, which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rsplit(")", 1)[1].split()


def process_identity(pid: int) -> str | None:
    """boot id + start time of a live process, or None when there is no such (non-zombie) process."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{fields[19]}"


def process_started_at(pid: int) -> float | None:
    """Start of a live process as a Unix time (from the boot time and its start in clock ticks)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    try:
        btime = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, ValueError):
        return None
    return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def procfs_available() -> bool:
    return Path("/proc/self/stat").exists()


def this_process_tags() -> dict[str, str]:
    """Run tags naming the process that executes the run."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PROCESS_TAG: process_identity(pid) or ""}


# ---- judging runs ---------------------------------------------------------------------------------
def _run_start_event_pid(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    if not records:
        return None
    entry = records[0].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event else None
    return (pid, entry.timestamp) if pid else None


def worker_gone(instance: DagsterInstance, run: DagsterRun, *, local_only: bool) -> str | None:
    """Why the process executing this run is known to be gone, or None (alive, or cannot tell).

    local_only: every run of this instance ran on this machine (embedded storage), so a run without
    process tags may be judged by the PID of its RUN_START event.
    """
    if not procfs_available():
        return None
    tags = run.tags
    if PID_TAG in tags:
        if tags.get(HOST_TAG) != socket.gethostname():
            return None
        pid = int(tags[PID_TAG])
        identity = process_identity(pid)
        if identity is None:
            return f"process {pid} on {tags[HOST_TAG]} is gone"
        if tags.get(PROCESS_TAG) and identity != tags[PROCESS_TAG]:
            return f"process {pid} on {tags[HOST_TAG]} is gone (the PID now belongs to another process)"
        return None
    if not local_only:
        return None
    started = _run_start_event_pid(instance, run.run_id)
    if started is None:
        return None
    pid, at = started
    began = process_started_at(pid)
    if began is None:
        return f"process {pid} is gone"
    if began > at + 1:
        return f"process {pid} is gone (the PID now belongs to a process started after the run)"
    return None


@dataclass(frozen=True)
class Reclaimed:
    run_id: str
    job_name: str
    reason: str

    def __str__(self) -> str:
        return f"run {self.run_id[:8]} ({self.job_name}): {self.reason}"


def reclaim_stale_runs(instance: DagsterInstance, *, local_only: bool | None = None) -> list[Reclaimed]:
    """Mark runs whose process is gone failed (or canceled, if they were canceling) and free the pool
    slots they, finished runs or long-gone run ids hold. Returns the runs reclaimed."""
    if local_only is None:
        local_only = _local_only()
    reclaimed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=LIVE_STATUSES)):
        run = record.dagster_run
        reason = worker_gone(instance, run, local_only=local_only)
        if reason is None:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:
            continue
        message = f"Marked failed by TrackTracker: {reason}; the next run of this job completes its work."
        if current.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message)
        else:
            instance.report_run_failed(current, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reclaimed.append(Reclaimed(run.run_id, run.job_name, reason))
    free_orphaned_slots(instance)
    return reclaimed


def _local_only() -> bool:
    """The instance's storage is the embedded PostgreSQL (reachable from this machine only)."""
    from tracktracker_assets.settings import get_settings, with_database

    settings = get_settings()
    if not settings.embedded_postgres:
        return False
    try:
        return settings.dagster_database_url == with_database(settings.database_url, "dagster")
    except RuntimeError:  # the embedded server was never started
        return False


def free_orphaned_slots(instance: DagsterInstance) -> list[str]:
    """Free slots and queued claims of finished runs and of run ids the run storage does not know."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    now = time.time()
    for key in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(key)
        claimed_at: dict[str, float] = {}
        for step in info.pending_steps:
            stamp = step.enqueued_timestamp or step.assigned_timestamp
            if stamp is not None:
                # Dagster stores these without a zone, in UTC
                at = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
                claimed_at[step.run_id] = min(claimed_at.get(step.run_id, now), at)
        run_ids = {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}
        for run_id in run_ids:
            record = instance.get_run_record_by_id(run_id)
            if record is None:
                if now - claimed_at.get(run_id, 0.0) < UNKNOWN_RUN_GRACE_S:
                    continue
            elif not record.dagster_run.is_finished:
                continue
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


# ---- pool slots -------------------------------------------------------------------------------------
class BusyError(RuntimeError):
    """A slot or lock stayed taken for longer than TRACKTRACKER_BUSY_WAIT_S."""


def describe_run(instance: DagsterInstance, run_id: str) -> str:
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return f"run {run_id[:8]} (not recorded yet)"
    return describe_record(record)


def describe_record(record: RunRecord) -> str:
    run = record.dagster_run
    since = record.start_time or record.create_timestamp.timestamp()
    where = ""
    if PID_TAG in run.tags:
        where = f", pid {run.tags[PID_TAG]} on {run.tags.get(HOST_TAG, '?')}"
    stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = "running" if run.status == DagsterRunStatus.STARTED else run.status.value.lower()
    return f"run {run.run_id[:8]} ({run.job_name}, {state} since {stamp}{where})"


def ensure_pool(instance: DagsterInstance, pool: str, default_limit: int | None) -> None:
    """Give a pool its default limit (dagster.yaml) the first time it is used, as Dagster does."""
    from sqlalchemy.exc import IntegrityError

    storage = instance.event_log_storage
    if default_limit is None or pool in {limit.name for limit in storage.get_pool_limits()}:
        return
    with contextlib.suppress(IntegrityError):  # another process just did
        storage.initialize_concurrency_limit_to_default(pool)


def pooled_steps(nodes: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(step_key, pool) for step_key, pool in nodes if pool]


def claim_pool_slots(
    instance: DagsterInstance,
    run_id: str,
    steps: Sequence[tuple[str, str]],
    *,
    timeout_s: float,
    on_wait: Callable[[str], None] = lambda _: None,
    check_interrupt: Callable[[], None] = lambda: None,
    local_only: bool | None = None,
) -> None:
    """Claim a slot in each step's pool for this run, waiting at most timeout_s in all.

    While a pool is full no claim is queued (a queued claim of a not-yet-created run would look like a
    leftover to other processes); stale holders are reclaimed every few seconds, on_wait hears who
    holds the slot, and check_interrupt may raise to stop waiting. The caller frees the slots
    (free_concurrency_slots_for_run) when the run ends, whatever happens.
    """
    storage = instance.event_log_storage
    if not steps or not storage.supports_global_concurrency_limits:
        return
    default_limit = storage.get_pool_config().default_pool_limit
    deadline = time.monotonic() + timeout_s
    for step_key, pool in steps:
        ensure_pool(instance, pool, default_limit)
        last_reclaim = 0.0
        last_message = ""
        while True:
            if storage.claim_concurrency_slot(pool, run_id, step_key).is_claimed:
                break
            storage.free_concurrency_slot_for_step(run_id, step_key)
            if time.monotonic() - last_reclaim >= RECLAIM_EVERY_S:
                last_reclaim = time.monotonic()
                if reclaim_stale_runs(instance, local_only=local_only):
                    continue
            holders = [slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots]
            held_by = ", ".join(describe_run(instance, r) for r in holders) or "another run"
            message = f"waiting for the {pool!r} slot, held by {held_by}"
            if message != last_message:
                on_wait(message)
                last_message = message
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"Gave up after {timeout_s:.0f} s waiting for the {pool!r} concurrency slot, held by "
                    f"{held_by}. If that run is stuck, terminate it in the Dagster UI (Runs) or stop its "
                    "process; TrackTracker reclaims slots of runs whose process is gone. "
                    "TRACKTRACKER_BUSY_WAIT_S sets how long to wait."
                )
            check_interrupt()
            time.sleep(WAIT_POLL_S)


# ---- run monitoring -------------------------------------------------------------------------------
class TrackTrackerRunLauncher(DefaultRunLauncher):
    """The default launcher (runs in the code server's processes), plus a worker health check for the
    daemon's run monitoring (dagster.yaml): a run whose recorded process is gone is reported failed.
    A run that cannot be judged from here (another host, no process recorded) counts as running."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        reason = worker_gone(self._instance, run, local_only=_local_only())
        if reason is not None:
            return CheckRunHealthResult(WorkerStatus.FAILED, reason)
        return CheckRunHealthResult(WorkerStatus.RUNNING, "")


def job_in_flight(instance: DagsterInstance, job_name: str) -> DagsterRun | None:
    """A run of this job that is queued, starting or running (sensors then leave the work to it).

    Runs whose process is gone are reclaimed first: a run left STARTED by a killed process would
    otherwise make the sensors wait for it forever.
    """
    reclaim_stale_runs(instance)
    in_flight = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    found = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=in_flight), limit=1)
    return found[0] if found else None
