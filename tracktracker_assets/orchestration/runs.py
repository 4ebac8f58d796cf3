"""Running TrackTracker's Dagster jobs from the command line, in this process, on the real instance.

The runs are recorded in the Dagster instance like any other (they show in the UI); executing in
process lets the CLI show live progress and spares a second Python start-up.

Every run goes through `_execute`: runs of processes that died are reclaimed first; the run records
this process (host, PID, start time) so it can be reclaimed in turn if this process dies; its pool
slots are claimed with a bounded wait that says who holds them; SIGINT and SIGTERM end it cleanly
(the run marked failed, its slots freed, dbt stopped, a message and a non-zero exit).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracktracker_assets.orchestration import liveness, partitions, progress
from tracktracker_assets.settings import Settings

# the CLI reports problems itself; Dagster's console log would repeat them
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    file_results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    checks_evaluated: int = 0
    pull_lines: list[str] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)  # PullOutcome.as_record() per user
    enrich: dict[str, Any] = field(default_factory=dict)
    musicbrainz: dict[str, Any] = field(default_factory=dict)


def _definitions() -> Any:
    from tracktracker_assets.definitions import load

    return load()


class RunInterrupted(RuntimeError):
    """A run stopped by SIGINT or SIGTERM (marked failed in the instance); `started`: whether the run
    had begun (else nothing of it happened)."""

    def __init__(self, message: str, *, started: bool) -> None:
        super().__init__(message)
        self.started = started


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[list[str]]:
    """SIGTERM interrupts like Ctrl-C while this process prepares a run or waits for a slot (inside
    the run, Dagster turns both into an interrupt of the running step). Yields the signals received."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupted(result: Any) -> bool:
    from dagster._core.errors import DagsterExecutionInterruptedError

    name = DagsterExecutionInterruptedError.__name__
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure and event.step_failure_data else None
        if event.is_run_failure and event.event_specific_data and event.event_specific_data.error:
            error = event.event_specific_data.error
        while error is not None:
            if error.cls_name == name or "KeyboardInterrupt" in (error.cls_name or ""):
                return True
            error = error.cause
    return False


def _end_interrupted(instance: Any, run_id: str, job_name: str, received: list[str]) -> RunInterrupted:
    why = received[-1] if received else "SIGINT or SIGTERM"
    run = instance.get_run_by_id(run_id)
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    if run is None:
        return RunInterrupted(
            f"Interrupted by {why} before the {job_name} run started: nothing was changed.", started=False
        )
    if not run.is_finished:
        instance.report_run_failed(run, f"Interrupted by {why}.")
    return RunInterrupted(
        f"Interrupted by {why}: run {run_id[:8]} ({job_name}) was stopped and marked failed. What it "
        "finished is kept (each file and each dbt model is all or nothing); run the command again to "
        "complete the rest.",
        started=True,
    )


def _execute(settings: Settings, job_name: str, **selection: Any) -> Any:
    """Execute a job in this process on the instance (see the module docstring); the result."""
    from dagster._core.utils import make_new_run_id

    from tracktracker_assets.orchestration.instance import get_instance

    instance = get_instance(settings)
    job = _definitions().resolve_job_def(job_name)
    run_id = make_new_run_id()
    tags = {**selection.pop("tags", {}), **liveness.this_process_tags()}
    steps = liveness.pooled_steps(
        (node.name, getattr(node.definition, "pool", None)) for node in job.graph.nodes
    )
    with _signals_interrupt() as received:
        try:
            liveness.reclaim_stale_runs(instance)
            liveness.claim_pool_slots(
                instance,
                run_id,
                steps,
                timeout_s=settings.busy_wait_s,
                on_wait=lambda message: progress.report(progress.Event("dbt", message, 0)),
            )
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags=tags,
                run_config=QUIET,
                raise_on_error=False,
                **selection,
            )
        except KeyboardInterrupt:
            raise _end_interrupted(instance, run_id, job_name, received) from None
        finally:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    if result.dagster_run is None:
        # Dagster could not even record the run: its database went away under it. Said as the
        # driver error it is, so the caller reports the database and what to do.
        import psycopg2

        raise psycopg2.OperationalError(f"the {job_name} run could not be recorded in Dagster's database")
    if _interrupted(result):
        raise _end_interrupted(instance, run_id, job_name, received)
    return result


def ensure_partitions(settings: Settings, user_ids: list[str]) -> list[str]:
    """Every user partition, after adding those these users lack (in partition order)."""
    from tracktracker_assets.orchestration.instance import get_instance

    return partitions.ensure_partitions(get_instance(settings), user_ids)


def _outcome(result: Any) -> RunOutcome:
    from tracktracker_assets.exports.assets import MANIFEST_KEY, RESULTS_METADATA
    from tracktracker_assets.lastfm.assets import KEY as LASTFM_KEY
    from tracktracker_assets.listenbrainz.assets import KEY as LISTENBRAINZ_KEY
    from tracktracker_assets.spotify.assets import PULLS_METADATA, RECENTLY_PLAYED

    pull_keys = (RECENTLY_PLAYED, LASTFM_KEY, LISTENBRAINZ_KEY)  # Spotify's lines first
    pulls: dict[Any, list[dict[str, Any]]] = {}
    outcome = RunOutcome(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user error, not Dagster's wrapper around it
                error = error.cause
            outcome.failures.append(error.message.strip())
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            if materialization.asset_key == MANIFEST_KEY and RESULTS_METADATA in materialization.metadata:
                outcome.file_results = list(materialization.metadata[RESULTS_METADATA].value)
            if materialization.asset_key in pull_keys and PULLS_METADATA in materialization.metadata:
                # one materialization per partition of the run, each with the whole run's outcomes
                pulls[materialization.asset_key] = list(materialization.metadata[PULLS_METADATA].value)
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            outcome.checks_evaluated += 1
            if not evaluation.passed:
                outcome.failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}"
                )
    if pulls:
        outcome.pulls = [record for key in pull_keys for record in pulls.get(key, [])]
        outcome.pull_lines = _pull_lines(outcome.pulls)
    return outcome


def run_import(settings: Settings, user_ids: list[str]) -> RunOutcome:
    """Load the inbox files of these users into bronze (one run)."""
    ordered = partitions.ordered_users(ensure_partitions(settings, user_ids), user_ids)
    return _outcome(_execute(settings, "import_exports", **partitions.users_range(ordered)))


def run_refresh(settings: Settings) -> RunOutcome:
    """Mirror registry users, then build silver and gold incrementally (one dbt invocation).

    dagster-dbt echoes dbt's log to stdout; here it goes to logs/dbt.log, keeping stdout for results.
    """
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.log_dir / "dbt.log", "a") as log, contextlib.redirect_stdout(log):
        result = _execute(settings, "refresh_warehouse")
    return _outcome(result)


def _pull_lines(pulls: list[dict[str, Any]]) -> list[str]:
    """One line per user from the pull asset's outcomes (messages are single lines already)."""
    from tracktracker_assets.users.registry import SERVICE_LABELS

    lines = []
    for pull in pulls:
        message = " ".join(str(pull.get("message") or "").split())
        service = f" ({SERVICE_LABELS.get(pull['service'], pull['service'])})" if pull.get("service") else ""
        lines.append(
            f"{pull['user_id']}{service}: {pull['status']}, {pull['inserted']} new of {pull['items']} items"
            + (f" — {message}" if message else "")
        )
    return lines


def run_pull(settings: Settings, user_ids: list[str] | None = None) -> RunOutcome:
    """Pull recently played for these users (default: every connected, active user): one run.

    The outcome's `pulls` has one record per user pulled; users asked for by name who cannot be
    pulled (unknown, not connected, needs_reauth) get a `skipped` record saying why."""
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.spotify.assets import PULL_USERS_TAG

    with open_registry(settings) as registry:
        users = {u.user_id: u for u in registry.list_users()}
    # Spotify needs a live consent; Last.fm and ListenBrainz only an account name
    connected = [
        u
        for u, user in users.items()
        if (user.connected and user.status == "active") or user.lastfm_user or user.listenbrainz_user
    ]
    wanted = [u for u in connected if user_ids is None or u in user_ids]

    def why_not(user_id: str) -> str:
        user = users.get(user_id)
        if user is None:
            return "unknown user: `tracktracker users list` shows who is registered"
        if not user.connected:
            return (
                f"not connected to Spotify, Last.fm or ListenBrainz: `tracktracker users connect {user_id}` "
                "(or connect-lastfm, connect-listenbrainz)"
            )
        return f"status {user.status}: reconnect with `tracktracker users connect {user_id}`"

    skipped = [
        {"user_id": u, "status": "skipped", "items": 0, "inserted": 0, "message": why_not(u)}
        for u in dict.fromkeys(user_ids or [])
        if u not in wanted
    ]
    if not wanted:
        lines = _pull_lines(skipped) if skipped else ["No connected user to pull."]
        return RunOutcome(run_id="", success=True, pulls=skipped, pull_lines=lines)
    ordered = partitions.ordered_users(ensure_partitions(settings, wanted), wanted)
    # several users: one run over the range (the asset skips the unconnected users in between and,
    # when users were named, everyone not named)
    selection = partitions.users_range(ordered)
    named = {PULL_USERS_TAG: ",".join(ordered)} if user_ids is not None else {}
    selection["tags"] = {**selection.get("tags", {}), **named}
    outcome = _outcome(_execute(settings, "pull_recently_played", **selection))
    outcome.pulls += skipped
    outcome.pull_lines = _pull_lines(outcome.pulls)
    return outcome


def run_enrich(settings: Settings) -> RunOutcome:
    """Fetch missing catalog details now (the half-hourly job)."""
    result = _execute(settings, "enrich_catalog")
    outcome = _outcome(result)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            outcome.enrich = {key: value.value for key, value in metadata.items()}
    return outcome


def run_musicbrainz(settings: Settings) -> RunOutcome:
    """Ask MusicBrainz now for what Spotify's catalog lacks (the half-hourly job)."""
    result = _execute(settings, "musicbrainz_lookups")
    outcome = _outcome(result)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            outcome.musicbrainz = {key: value.value for key, value in metadata.items()}
    return outcome
