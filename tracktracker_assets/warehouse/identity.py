"""What identifies one listening event in each bronze table, read from the one place it is written:
the `event_identity` var of dbt/dbt_project.yml.

The staging models hash these columns into play_id (dbt/macros/event_identity.sql), the loader drops
rows of a new load that agree on all of them with an earlier load, and the reconciliation check counts
bronze events by them: the three cannot drift apart. The first column is the end of playback.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

DBT_PROJECT_FILE = Path(__file__).resolve().parents[2] / "dbt" / "dbt_project.yml"


@cache
def event_identities() -> dict[str, tuple[str, ...]]:
    """Bronze table name (without schema) -> its identity columns, end time first."""
    project = yaml.safe_load(DBT_PROJECT_FILE.read_text())
    return {table: tuple(columns) for table, columns in project["vars"]["event_identity"].items()}


def event_identity(table: str) -> tuple[str, ...]:
    """Identity columns of a bronze table, named with or without its schema (`bronze.x` or `x`)."""
    return event_identities()[table.rpartition(".")[2]]


def distinct_events_sql(table: str, group_by: str = "user_id") -> str:
    """`count(distinct ...)` of the table's events per `group_by` (nulls agreeing like the loader's
    `is not distinct from` and play_id's hash)."""
    columns = ", ".join(event_identity(table))
    return f"select {group_by}, count(distinct ({columns})) as events from {table} group by {group_by}"
