"""The dbt CLI resource, without two costs dagster-dbt pays on every invocation.

- It runs `dbt --version` in a subprocess to learn the version (about 1-3 s here): the installed
  dbt-core package says the same for free.
- It imports dbt into the Dagster process to build an adapter, used only for `fetch_row_counts`
  (another ~1.5 s, plus a count(*) per model that grows with history). Row counts here come from
  PostgreSQL's statistics instead (see assets.py).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class TrackTrackerDbtResource(DbtCliResource):
    @property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
