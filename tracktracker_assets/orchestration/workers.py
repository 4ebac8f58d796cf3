"""Celery workers for TRACKTRACKER_EXECUTOR=celery: the one Celery configuration shared by the runs that
send steps (executor.py) and the workers that run them (`tracktracker worker`).

A worker is one process running one step at a time (Celery's `solo` pool: a step is the process's own
work, so killing the process kills the step with it; start more workers for more steps at once). A
step is acknowledged to the broker only after it ran (`acks_late`), one worker reserves one step at a
time (prefetch 1), so waiting steps go to whichever worker is free. When a worker dies mid-step
(SIGKILL, a crash, a lost machine) its step stays unacknowledged and Redis hands it to another worker
after TRACKTRACKER_CELERY_VISIBILITY_TIMEOUT_S; the run waits and completes. That re-runs the whole
step: every bronze write is idempotent by event identity (a play already stored is not stored again),
so nothing is lost or doubled. A step still running after the timeout is handed out a second time too:
keep the timeout above the longest step.
"""

from __future__ import annotations

import os
from typing import Any

from tracktracker_assets.settings import Settings

QUEUE = "dagster"  # dagster-celery's queue (make_app routes every step there)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings both sides must agree on."""
    from dagster_celery.config import DEFAULT_CONFIG

    return {
        **DEFAULT_CONFIG,
        "task_acks_late": True,
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


def worker_app(settings: Settings) -> Any:
    """The Celery app a worker runs: dagster-celery's step task on our broker and backend."""
    from dagster_celery.config import dict_wrapper
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    args = app_args(settings)
    app = make_app({**args, "config_source": dict_wrapper(args["config_source"])})
    create_task(app)
    return app


def default_name() -> str:
    return f"tracktracker-{os.getpid()}@%h"


def run_worker(settings: Settings, *, name: str | None = None, loglevel: str = "INFO") -> None:
    """Run one worker in this process until it is stopped (SIGTERM: finish the step, then exit)."""
    from tracktracker_assets.definitions import load
    from tracktracker_assets.orchestration.instance import prepare_dagster_home

    # the steps' runs name the instance by reference; its storage URL comes from this environment
    prepare_dagster_home(settings)
    # the code location once, now: a broken one fails here, and the first step does not wait for it
    load()
    app = worker_app(settings)
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            f"--queues={QUEUE}",
            f"--hostname={name or default_name()}",
            f"--loglevel={loglevel}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
        ]
    )
