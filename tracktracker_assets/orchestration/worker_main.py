"""Running one Celery worker (`tracktracker worker`) with the configuration of workers.py.

Apart from workers.py because a worker loads the code location (tracktracker_assets.definitions),
whose jobs use the executor that imports workers.py: the rooms import no loop.
"""

from __future__ import annotations

import os
from typing import Any

from tracktracker_assets.orchestration.workers import QUEUE, app_args
from tracktracker_assets.settings import Settings


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
            "--pool=threads",
            "--concurrency=1",
            f"--queues={QUEUE}",
            f"--hostname={name or default_name()}",
            f"--loglevel={loglevel}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
        ]
    )
