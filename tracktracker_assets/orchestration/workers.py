"""Celery workers for TRACKTRACKER_EXECUTOR=celery: the one Celery configuration shared by the runs that
send steps (executor.py) and the workers that run them (`tracktracker worker`).

A worker (worker_main.py, `tracktracker worker`) is one process running one step at a time (a
thread of the worker process, so killing the process kills the step with it, while the process still
answers the runs' pings; start more workers for more steps at once). One worker reserves one step
at a time (prefetch 1), so waiting steps go to whichever worker is free.

When a worker dies mid-step (SIGKILL, a crash, a lost machine), the run notices within seconds
(WatchedStep: its pings go unanswered) and sends the step again, to another worker; the run completes.
That re-runs the whole step: every bronze write is idempotent by event identity (a play already
stored is not stored again), so nothing is lost or doubled. Behind that, a step is acknowledged to
Redis only after it ran (`acks_late`): one whose run is gone too is handed to another worker after
TRACKTRACKER_CELERY_VISIBILITY_TIMEOUT_S (checked about every 100 s by kombu). A step still running
after that timeout is handed out a second time: keep the timeout above the longest step.
"""

from __future__ import annotations

from typing import Any

from tracktracker_assets.settings import Settings

QUEUE = "dagster"  # dagster-celery's queue (make_app routes every step there)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings both sides must agree on."""
    from dagster_celery.config import DEFAULT_CONFIG

    return {
        **DEFAULT_CONFIG,
        "task_acks_late": True,
        # the worker records who runs a step (STARTED, with its node name): WatchedStep asks that node
        "task_track_started": True,
        # a pool child that dies (prefork pools) gives its step back instead of failing it
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            **DEFAULT_CONFIG["broker_transport_options"],
            "visibility_timeout": settings.celery_visibility_timeout_s,
        },
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 7 * 24 * 3600,
    }


def app_args(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of dagster-celery's CeleryExecutor (and of its app) for these settings."""
    return {
        "broker": settings.celery_broker_url,
        "backend": settings.celery_backend_url,
        "include": [],
        "config_source": celery_config(settings),
    }


# ---- a step whose worker died ----------------------------------------------------------------------
# how often a run asks whether the worker holding a step still answers, and how many silences mean gone
CHECK_EVERY_S = 5.0
SILENCES_FOR_GONE = 2
PING_TIMEOUT_S = 2.0


class NoWorkerError(RuntimeError):
    """No Celery worker answered while a step waited for one (TRACKTRACKER_CELERY_NO_WORKER_S)."""


class WatchedStep:
    """A step's Celery result (what dagster-celery's loop polls) that notices its worker is gone and
    sends the step again.

    The worker records the step as STARTED with its node name; while the step runs, the run pings that
    node every CHECK_EVERY_S. Gone after SILENCES_FOR_GONE unanswered pings: the old task is revoked
    (live workers drop it if Redis hands it out again later) and the step is sent anew, to whichever
    worker is free. Re-running a step is safe: bronze writes are idempotent by event identity.
    """

    def __init__(
        self, app: Any, submit: Any, on_lost: Any, *, what: str = "", no_worker_s: float = 300.0
    ) -> None:
        import time

        self._app, self._submit, self._on_lost = app, submit, on_lost
        self._what, self._no_worker_s = what, no_worker_s
        self._clock = time.monotonic
        self.result = submit()
        self._checked = self._clock()
        self._silences = 0
        self._unanswered_since: float | None = None
        self._failure: NoWorkerError | None = None

    def ready(self) -> bool:
        if self._failure is not None or self.result.ready():
            return True
        if self._clock() - self._checked >= CHECK_EVERY_S:
            self._checked = self._clock()
            self._check()
        return False

    def _check(self) -> None:
        info = self.result.info if self.result.state == "STARTED" else None
        hostname = info.get("hostname") if isinstance(info, dict) else None
        if not hostname:
            self._silences = 0  # waiting in the queue: no worker to ask yet
            self._check_some_worker_answers()
            return
        if self._app.control.ping(destination=[hostname], timeout=PING_TIMEOUT_S):
            self._silences = 0
            return
        self._silences += 1
        if self._silences >= SILENCES_FOR_GONE:
            self._silences = 0
            self.result.revoke()
            self.result = self._submit()
            self._on_lost(hostname)

    def _check_some_worker_answers(self) -> None:
        """A step waiting in the queue while no worker answers at all fails after no_worker_s, instead
        of waiting forever (busy workers answer: their step runs in a thread)."""
        if self._app.control.ping(timeout=PING_TIMEOUT_S, limit=1):
            self._unanswered_since = None
            return
        now = self._clock()
        if self._unanswered_since is None:
            self._unanswered_since = now
        elif now - self._unanswered_since >= self._no_worker_s:
            self.result.revoke()
            self._failure = NoWorkerError(
                f"No Celery worker answered for {self._no_worker_s:.0f} s, so {self._what or 'this step'} "
                "did not run and wrote nothing. Start `tracktracker worker` (with the same "
                "TRACKTRACKER_CELERY_BROKER_URL as the daemon) and launch the run again, or set "
                "TRACKTRACKER_EXECUTOR=in_process."
            )

    def get(self, *args: Any, **kwargs: Any) -> Any:
        if self._failure is not None:
            raise self._failure
        return self.result.get(*args, **kwargs)

    def revoke(self) -> None:
        self.result.revoke()
