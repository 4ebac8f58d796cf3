"""The Dagster instance of a TrackTracker home: DAGSTER_HOME under TRACKTRACKER_HOME, storage in
PostgreSQL (dagster-postgres, database `dagster`), configured by the repository's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import DagsterInstance

from tracktracker_assets.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def dagster_env(settings: Settings) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(settings.dagster_home),
        "TRACKTRACKER_DAGSTER_DATABASE_URL": settings.dagster_database_url,
        "TRACKTRACKER_HOME": str(settings.home),
    }


def prepare_dagster_home(settings: Settings) -> None:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", settings.dagster_home / "dagster.yaml")
    os.environ.update(dagster_env(settings))


def get_instance(settings: Settings) -> DagsterInstance:
    prepare_dagster_home(settings)
    return DagsterInstance.get()
