"""Erasing a listener everywhere: an ordered list of named, idempotent steps behind a durable record.

`users remove` first writes the erasure record (bronze.erasures, warehouse/erase.py), then runs the
steps in order, marking each done. Cut short anywhere (a kill, a crash, a lock that stays taken), the
erasure is finished by the next `users remove` of the same user or the next `up`: steps done are
skipped, the others run again. Until it is finished the user id cannot be registered again.

To erase something more, add a Step to STEPS (where its order matters: after what could still write
it, before the steps that clean logs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from tracktracker_assets.settings import Settings
from tracktracker_assets.users.traces import Identity
from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.warehouse.erase import (
    ErasureRecord,
    complete_erasure,
    mark_step_done,
    pending_erasure,
    pending_erasures,
    request_erasure,
)


@dataclass
class Erasure:
    settings: Settings
    console: Console
    record: ErasureRecord
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> Identity:
        return Identity(self.record.user_id, self.record.display_name)

    @property
    def user_id(self) -> str:
        return self.record.user_id


@dataclass(frozen=True)
class Step:
    name: str
    doing: str  # shown while the step runs
    run: Callable[[Erasure], str | None]  # returns what it did, for the summary
    marks_itself: bool = False  # the step records itself done in its own transaction


# ---- the steps ------------------------------------------------------------------------------------
def _registry(erasure: Erasure) -> str | None:
    from tracktracker_assets.services.local import open_registry

    with open_registry(erasure.settings) as registry:
        removed = registry.remove_user(erasure.user_id)
    return "registry entry, tokens and sign-in sessions deleted" if removed else None


def _warehouse_login(erasure: Erasure) -> str | None:
    from tracktracker_assets.warehouse.access import drop_listener

    conn = connect(erasure.settings.database_url)
    try:
        dropped = drop_listener(conn, erasure.settings, erasure.user_id)
    finally:
        conn.close()
    return "their PostgreSQL role dropped (sessions ended) and its login deleted" if dropped else None


def _partition(erasure: Erasure) -> str | None:
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.partitions import users_partitions
    from tracktracker_assets.users.sync import mirror_users

    instance = get_instance(erasure.settings)
    if instance.has_dynamic_partition(users_partitions.name, erasure.user_id):
        instance.delete_dynamic_partition(users_partitions.name, erasure.user_id)
    mirror_users(erasure.settings)
    return None


def _files(erasure: Erasure) -> str | None:
    from tracktracker_assets.users.traces import paths_named_after, remove_paths

    settings = erasure.settings
    removed = remove_paths(paths_named_after(settings.home, erasure.user_id))
    return f"{removed} folders and files deleted (inbox, archive, rejected, uploads)" if removed else None


def _warehouse(erasure: Erasure) -> str | None:
    from tracktracker_assets.warehouse.erase import erase_user

    conn = connect(erasure.settings.database_url)
    try:
        deleted = erase_user(
            conn,
            erasure.user_id,
            timeout_s=erasure.settings.busy_wait_s,
            on_wait=lambda message: erasure.console.print(f"[dim]{message}[/]"),
            erasure_id=erasure.record.erasure_id,
            step="warehouse",
        )
    finally:
        conn.close()
    return f"{sum(deleted.values())} rows erased from {len(deleted)} tables"


def _shared_models(erasure: Erasure) -> str | None:
    from tracktracker_assets.transform.refresh import rebuild_shared_models

    rebuild_shared_models(erasure.settings)
    return None


def _superset(erasure: Erasure) -> str | None:
    from tracktracker_assets.dashboards.erase import erase_listener

    return erase_listener(erasure.settings, erasure.user_id)


def _dagster(erasure: Erasure) -> str | None:
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.liveness import reclaim_stale_runs
    from tracktracker_assets.users.traces import purge_dagster

    instance = get_instance(erasure.settings)
    reclaim_stale_runs(instance)
    conn = connect(erasure.settings.dagster_database_url)
    try:
        counts = purge_dagster(instance, conn, erasure.identity)
    finally:
        conn.close()
    return f"{counts['runs']} Dagster runs and {counts['events']} events naming them deleted"


def _logs(erasure: Erasure) -> str | None:
    from tracktracker_assets.users.traces import redact_logs

    removed = redact_logs(erasure.settings, erasure.identity)
    return f"{sum(removed.values())} log lines in {len(removed)} files removed" if removed else None


def _dbt_artefacts(erasure: Erasure) -> str | None:
    from tracktracker_assets.transform.project import ensure_manifest
    from tracktracker_assets.users.traces import purge_dbt_artefacts

    removed = purge_dbt_artefacts(erasure.settings.dbt_target_dir, erasure.identity)
    removed += purge_dbt_artefacts(erasure.settings.dbt_log_dir, erasure.identity)
    ensure_manifest(erasure.settings)  # parses again only if the manifest was among them
    return f"{len(removed)} dbt artefacts removed" if removed else None


# Order: first what gives access and what could bring data back (registry, partition, inbox files),
# then the data, then derived data, then records of the work (Dagster's runs, logs, dbt artefacts),
# which the earlier steps may still have added to.
STEPS: list[Step] = [
    Step("registry", "Deleting the registry entry, tokens and sessions", _registry),
    Step("warehouse login", "Dropping their PostgreSQL role", _warehouse_login),
    Step("partition", "Removing the Dagster partition", _partition),
    Step("files", "Deleting their files", _files),
    Step("warehouse", "Erasing their rows from bronze, silver and gold", _warehouse, marks_itself=True),
    Step("shared models", "Recomputing global trends and shared dimensions without them", _shared_models),
    Step("superset", "Deleting their Superset account and history", _superset),
    Step("dagster", "Deleting Dagster runs and events that name them", _dagster),
    Step("logs", "Removing log lines that name them", _logs),
    Step("dbt artefacts", "Removing dbt artefacts that name them", _dbt_artefacts),
]


# ---- running ------------------------------------------------------------------------------------------
def _run(erasure: Erasure) -> None:
    for step in STEPS:
        if step.name in erasure.record.steps_done:
            continue
        with erasure.console.status(f"{step.doing}..."):
            note = step.run(erasure)
        if note:
            erasure.notes[step.name] = note
        if not step.marks_itself:
            conn = connect(erasure.settings.database_url)
            try:
                mark_step_done(conn, erasure.record.erasure_id, step.name)
            finally:
                conn.close()
    conn = connect(erasure.settings.database_url)
    try:
        complete_erasure(conn, erasure.record.erasure_id)
    finally:
        conn.close()


def erase(settings: Settings, console: Console, user_id: str) -> Erasure:
    """Erase a registered user, or finish an erasure of them that was cut short.

    Raises RegistryError (unknown user) when there is neither.
    """
    from tracktracker_assets.services.local import open_registry

    conn = connect(settings.database_url)
    try:
        record = pending_erasure(conn, user_id)
        if record is not None and _superseded(settings, record):
            complete_erasure(conn, record.erasure_id)
            record = None
        if record is None:
            with open_registry(settings) as registry:
                user = registry.require_user(user_id)
            record = request_erasure(conn, user_id, user.display_name)
        elif record.display_name is None:
            record = request_erasure(conn, user_id, _display_name_left(settings, conn, user_id))
    finally:
        conn.close()
    erasure = Erasure(settings, console, record)
    _run(erasure)
    return erasure


def _display_name_left(settings: Settings, conn: Any, user_id: str) -> str | None:
    """The display name of a user whose erasure began without one: from the registry or its mirror."""
    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as registry:
        user = registry.get_user(user_id)
    if user is not None:
        return user.display_name
    with conn.cursor() as cur:
        cur.execute("select display_name from bronze.registry_users where user_id = %s", (user_id,))
        row = cur.fetchone()
    conn.rollback()
    return row[0] if row else None


def _superseded(settings: Settings, record: ErasureRecord) -> bool:
    """The user id was registered again after this erasure was asked for (possible only for erasures
    recorded by earlier versions): that erasure was about someone else, and must not touch them."""
    from datetime import UTC

    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as registry:
        user = registry.get_user(record.user_id)
    if user is None or user.created_at is None:
        return False
    created = user.created_at if user.created_at.tzinfo else user.created_at.replace(tzinfo=UTC)
    requested = record.requested_at if record.requested_at.tzinfo else record.requested_at.replace(tzinfo=UTC)
    return created > requested


def _pending(settings: Settings) -> list[ErasureRecord]:
    conn = connect(settings.database_url)
    try:
        return pending_erasures(conn)
    finally:
        conn.close()


def pending_user_ids(settings: Settings) -> list[str]:
    return [record.user_id for record in _pending(settings) if not _superseded(settings, record)]


def resume_pending(settings: Settings, console: Console) -> list[Erasure]:
    """Finish every erasure that was cut short (`up` calls this)."""
    finished = []
    for record in _pending(settings):
        if _superseded(settings, record):
            conn = connect(settings.database_url)
            try:
                complete_erasure(conn, record.erasure_id)
            finally:
                conn.close()
            continue
        user_id = record.user_id
        console.print(f"Finishing the erasure of {user_id!r}, which was cut short...")
        finished.append(erase(settings, console, user_id))
    return finished


def summary(erasure: Erasure) -> str:
    done = "; ".join(erasure.notes.values())
    return f"Removed {erasure.user_id}" + (f": {done}." if done else ".")
