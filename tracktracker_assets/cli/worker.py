"""`tracktracker worker`: one Celery worker for TRACKTRACKER_EXECUTOR=celery (orchestration/worker_main)."""

from __future__ import annotations

import click

from tracktracker_assets.cli.output import console, friendly_errors
from tracktracker_assets.settings import get_settings


@click.command()
@click.option(
    "--name",
    default=None,
    help="The worker's Celery node name (default: tracktracker-<pid>@<host>; %h is the host name).",
)
@click.option("--loglevel", default="INFO", show_default=True, help="Celery's log level.")
@friendly_errors
def worker(name: str | None, loglevel: str) -> None:
    """Run one Celery worker for the pull, import and enrichment steps (TRACKTRACKER_EXECUTOR=celery).

    It takes steps from TRACKTRACKER_CELERY_BROKER_URL one at a time and runs them against the Dagster
    instance and warehouse of TRACKTRACKER_HOME (or the database URLs set). Start one per core, on as
    many machines as you like; SIGTERM lets the step in hand finish, then exits.
    """
    from tracktracker_assets.orchestration.worker_main import run_worker

    settings = get_settings()
    if settings.executor != "celery":
        console.print(
            "[yellow]TRACKTRACKER_EXECUTOR is not `celery` here: runs started with this environment execute "
            "in process and send this worker nothing.[/]"
        )
    run_worker(settings, name=name, loglevel=loglevel)
