"""The Dagster instance of a TrackTracker home: DAGSTER_HOME under TRACKTRACKER_HOME, storage in
PostgreSQL (dagster-postgres, database `dagster`), configured by the repository's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance

from tracktracker_assets.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


# Dagster hands a run's plan (an event per asset and check) to the event log as one batch, which
# orchestration/storage.py writes in one transaction; up to this many events per batch
EVENT_BATCH_SIZE = "1000"


def dagster_env(settings: Settings) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_EVENT_BATCH_SIZE": EVENT_BATCH_SIZE,
        "TRACKTRACKER_DAGSTER_DATABASE_URL": settings.dagster_database_url,
        "TRACKTRACKER_HOME": str(settings.home),
    }


def prepare_dagster_home(settings: Settings) -> None:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", settings.dagster_home / "dagster.yaml")
    os.environ.update(dagster_env(settings))


# the instance shared within one_instance(), by DAGSTER_HOME (None until first asked for)
_shared: dict[Path, DagsterInstance | None] = {}


def get_instance(settings: Settings) -> DagsterInstance:
    home = settings.dagster_home
    if home in _shared:
        instance = _shared[home]
        if instance is None:
            prepare_dagster_home(settings)
            instance = _shared[home] = DagsterInstance.get()
        return instance
    prepare_dagster_home(settings)
    return DagsterInstance.get()


@contextmanager
def one_instance(settings: Settings) -> Iterator[None]:
    """Within it, get_instance(settings) builds the instance once and returns that one: a command
    that mirrors listeners and starts two runs would otherwise build it (connecting to and checking
    each of Dagster's storages) three times. Disposed at the end; nested, the outermost owns it."""
    home = settings.dagster_home
    if home in _shared:
        yield
        return
    _shared[home] = None
    try:
        yield
    finally:
        instance = _shared.pop(home)
        if instance is not None:
            instance.dispose()
