"""Imports end to end, as the CLI, the demo, tests and benchmarks run them: files land in the
listener's inbox, one Dagster run loads bronze, a second refreshes silver and gold, and a live display
on the caller's console shows both. Every problem is reported there, named by file and record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tracktracker_assets.exports.errors import ServiceProblem
from tracktracker_assets.exports.intake import check_paths, drop_all
from tracktracker_assets.orchestration import progress as progress_events
from tracktracker_assets.services.local import open_registry, start_storage
from tracktracker_assets.settings import Settings

if TYPE_CHECKING:  # Dagster is imported by the runs only: an import that changes nothing starts none
    from tracktracker_assets.orchestration.runs import RunOutcome


@contextmanager
def live_progress(console: Console) -> Iterator[None]:
    """A transient progress display fed by the run's progress events (loads, then dbt models)."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console, transient=True) as display,
        progress_events.listening(_live_progress(display)),
    ):
        yield


def _live_progress(display: Progress) -> Any:
    tasks: dict[str, int] = {}

    def on_event(event: progress_events.Event) -> None:
        key = f"{event.stage}:{event.name}" if event.stage == "load" else "dbt"
        if key not in tasks:
            label = event.name if event.stage == "load" else "refreshing silver and gold (dbt)"
            tasks[key] = display.add_task(label, total=event.total)
        if event.stage == "load":
            display.update(
                tasks[key], completed=event.done, description=f"{event.name} ({event.done:,} records)"
            )
        else:
            display.update(
                tasks[key], completed=event.done, total=event.total, description=f"dbt: {event.name}"
            )

    return on_event


# Dagster prefixes a failure with the error's class; ours are written to be read without it
_OWN_ERROR = re.compile(r"^tracktracker_assets\.[\w.]+: ")


def _report(console: Console, outcome: RunOutcome) -> tuple[bool, int]:
    ok, inserted = True, 0
    for dropped in outcome.file_results:
        if dropped.get("left_in_inbox"):
            ok = False
            console.print(f"[yellow]! {dropped['file']}:[/] {dropped['left_in_inbox']}")
        if dropped.get("error"):
            ok = False
            console.print(f"[red]✗ rejected[/] {dropped['error']}")
        for entry in dropped["files"]:
            status, message = entry["status"], entry["message"]
            inserted += entry["inserted"]
            if status == "rejected":
                ok = False
                console.print(f"[red]✗ rejected[/] {message}")
            elif status == "loaded":
                console.print(f"[green]✓[/] {entry['name']}: {message}")
            elif status == "skipped":
                console.print(f"[dim]- {entry['name']}: {message}[/]")
            else:
                console.print(f"[yellow]=[/] {entry['name']}: {message}")
    for failure in outcome.failures:
        ok = False
        console.print(f"[red]✗ run failed:[/] {_OWN_ERROR.sub('', failure)}")
    return ok, inserted


def import_files(settings: Settings, console: Console, user_id: str, paths: list[Path]) -> bool:
    """Returns True when every file was loaded (or was already loaded) and gold is current."""
    from tracktracker_assets.orchestration.instance import one_instance

    with one_instance(settings):
        return _import_files(settings, console, user_id, paths)


def _import_files(settings: Settings, console: Console, user_id: str, paths: list[Path]) -> bool:
    with database_errors("before the import; nothing was imported"):
        start_storage(settings)
        with open_registry(settings) as registry:
            registry.require_user(user_id)
    check_paths(settings, user_id, paths)
    with database_errors("before the import; nothing was imported"):
        known = _nothing_new(settings, user_id, paths)
    if known is not None:
        for result in known:
            console.print(f"[yellow]=[/] {result.name}: {result.message}")
        with database_errors("during the refresh of silver and gold; the next refresh completes it"):
            return refresh_if_behind(settings, console)
    with database_errors("before the import; nothing was imported"):
        from tracktracker_assets.users.accounts import mirror_users

        mirror_users(settings)
    drop_all(settings, user_id, paths)  # every file or none, an interrupt included
    from tracktracker_assets.orchestration.runs import RunInterrupted

    try:
        return load_and_refresh(settings, console, [user_id])
    except KeyboardInterrupt:  # before a run took the signals over, or between the two runs
        message = f"Interrupted by SIGINT. {_inbox_now(settings, user_id)}"
        raise RunInterrupted(message, started=False) from None
    except RunInterrupted as interrupted:
        if interrupted.started:
            raise
        raise RunInterrupted(f"{interrupted} {_inbox_now(settings, user_id)}", started=False) from None


def _inbox_now(settings: Settings, user_id: str) -> str:
    """What an import interrupted outside its runs' own handling leaves, said from the inbox itself:
    the files it took in are loaded whole or wait there."""
    from tracktracker_assets.exports.inbox import entry_names

    waiting = entry_names(settings, user_id)
    if not waiting:
        return (
            "The files were loaded; run the same import again to bring silver and gold up to date "
            "(it skips what is loaded)."
        )
    shown = ", ".join(waiting[:3]) + (f" and {len(waiting) - 3} more" if len(waiting) > 3 else "")
    return (
        f"Not loaded yet: {len(waiting)} file(s) wait in {user_id}'s inbox ({shown}). Run the same "
        "import again (it skips what is loaded), or leave them to the daemon's inbox sensor while "
        "`tracktracker up` runs."
    )


def _nothing_new(settings: Settings, user_id: str, paths: list[Path]) -> list[Any] | None:
    """The loader's "already loaded" results when every file is one this listener loaded before and
    their inbox holds nothing waiting: then no run starts (a run would find just that). None else."""
    from tracktracker_assets.exports.inbox import has_entries
    from tracktracker_assets.exports.loader import already_loaded
    from tracktracker_assets.warehouse.db import connect

    if has_entries(settings, user_id):
        return None
    conn = connect(settings.database_url)
    try:
        return already_loaded(conn, user_id, paths)
    finally:
        conn.close()


def load_and_refresh(settings: Settings, console: Console, user_ids: list[str]) -> bool:
    from tracktracker_assets.orchestration.instance import one_instance

    with one_instance(settings):
        return _load_and_refresh(settings, console, user_ids)


def _load_and_refresh(settings: Settings, console: Console, user_ids: list[str]) -> bool:
    with (
        database_errors(
            "during the import. Each file is loaded whole or not at all: files not loaded yet stay in "
            "the inbox, and the same import (or the daemon) finishes the job, skipping what was loaded"
        ),
        live_progress(console),
    ):
        from tracktracker_assets.orchestration.runs import run_import

        outcome = run_import(settings, user_ids)
    ok, inserted = _report(console, outcome)
    if outcome.failures and any(_service_failure(f) for f in outcome.failures):
        return False  # the database is the problem: a refresh now would fail the same way
    with database_errors("during the refresh of silver and gold; the next refresh completes it"):
        if not refresh_if_behind(settings, console, inserted):
            ok = False
    return ok


def _service_failure(message: str) -> bool:
    return message.startswith(f"{ServiceProblem.__module__}.{ServiceProblem.__name__}:")


@contextmanager
def database_errors(when: str) -> Iterator[None]:
    """A lost connection to PostgreSQL (stopped, killed, out of disk) surfaces from psycopg2 or from
    Dagster's storage as a driver error: say which service and what to do instead of a traceback."""
    try:
        yield
    except ServiceProblem:
        raise
    except Exception as exc:
        cause = _database_cause(exc)
        if cause is None:
            raise
        detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise ServiceProblem(
            f"the database server (PostgreSQL) went away {when}. ({detail}) Start it again with "
            "`tracktracker up` (or check the server of TRACKTRACKER_DATABASE_URL), then run the "
            "import again."
        ) from None


def _database_cause(exc: BaseException) -> BaseException | None:
    import psycopg2
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            psycopg2.OperationalError | psycopg2.InterfaceError | sqlalchemy.exc.DBAPIError,
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def refresh_if_behind(settings: Settings, console: Console, new_plays: int | None = None) -> bool:
    """Refresh silver and gold when bronze holds loads they have not seen; False if that failed."""
    if not _gold_behind_bronze(settings):
        console.print("Nothing new to load: silver and gold are unchanged.")
        return True
    return refresh(settings, console, new_plays)


def refresh(settings: Settings, console: Console, new_plays: int | None = None) -> bool:
    """Refresh silver and gold now (one recorded run); False if that failed."""
    from tracktracker_assets.orchestration.runs import run_refresh

    with live_progress(console):
        refresh = run_refresh(settings)
    for failure in refresh.failures:
        console.print(f"[red]✗ refresh failed:[/] {failure}")
    for check in refresh.failed_checks:
        console.print(f"[yellow]! check failed:[/] {check}")
    if refresh.success:
        counted = f" ({new_plays:,} new plays)" if new_plays is not None else ""
        console.print(f"Silver and gold refreshed{counted}.")
    return refresh.success


def _gold_behind_bronze(settings: Settings) -> bool:
    """New bronze rows (from this import, or an earlier one whose refresh failed) await dbt."""
    from tracktracker_assets.warehouse.db import connect
    from tracktracker_assets.warehouse.status import pending_bronze_load_id

    conn = connect(settings.database_url)
    try:
        return pending_bronze_load_id(conn) is not None
    finally:
        conn.close()
