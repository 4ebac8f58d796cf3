"""`tracktracker up | down | status`."""

from __future__ import annotations

from functools import partial

from rich.console import Console

from tracktracker_assets.services.local import open_registry, start_storage, stop_storage, storage_states
from tracktracker_assets.settings import Settings


def up(settings: Settings, console: Console, *, demo: bool, ui: bool = True) -> None:
    """Everything locally: storage, Dagster (webserver + daemon: schedules and sensors run), Superset,
    and the demo on first start."""
    from tracktracker_assets.cli import superset as superset_cli
    from tracktracker_assets.demo import demo_pending, load_demo
    from tracktracker_assets.orchestration.instance import prepare_dagster_home
    from tracktracker_assets.services.dagster import DagsterServices
    from tracktracker_assets.services.home import tighten
    from tracktracker_assets.transform.project import ensure_manifest

    with console.status("Starting PostgreSQL and the user registry..."):
        start_storage(settings)
    loosened = tighten(settings)  # files an older version or a hand left readable by others
    if loosened:
        console.print(f"Made {len(loosened)} files and folders under {settings.home} private (0600/0700).")
    # Superset is served early unless the demo loads first (its refresh would warm unprovisioned dashboards)
    serve_early = not (demo and demo_pending(settings))
    superset_begun = superset_cli.begin_in_background(settings, serve=serve_early) if ui else None
    from tracktracker_assets.services import command_process

    with console.status("Preparing the Dagster instance and the dbt project..."):
        prepare_dagster_home(settings)
        # one of older code or settings would decline every command: start anew. It warms up (imports
        # Dagster and dbt, ~5 s) while the project parses here; its own parse waits for this one
        # (ensure_manifest's lock) and finds it done
        command_process.stop(settings)
        command_process.start(settings)
        ensure_manifest(settings)
    _heal(settings, console)
    for state in storage_states(settings):
        console.print(f"[green]●[/] {state.name}: {state.detail}")
    from tracktracker_assets.exports.retention import tidy_everyone

    tidy_everyone(settings)  # interrupted copies and files past their retention: cheap, once per up
    from tracktracker_assets.services.processes import eventually, in_background

    # Dagster's processes start while the command process warms up (each waits on its own)
    dagster = DagsterServices(settings)
    dagster_started = in_background(dagster.start, "dagster-start") if ui else None

    with console.status("Warming up the command process (Dagster, dbt, the definitions)..."):
        eventually(
            lambda: command_process.ready(settings) or not command_process.running(settings), timeout=120
        )
    if command_process.ready(settings):
        console.print("[green]●[/] commands: warm (`import` starts its runs without loading Dagster anew)")
    else:
        console.print(
            "[yellow]![/] commands: the command process is not ready (see "
            f"{command_process.log_file(settings)}); each command loads Dagster itself meanwhile"
        )
    if dagster_started is not None:
        with console.status("Starting the Dagster webserver and daemon..."):
            dagster_url = dagster_started.result()
        console.print(f"[green]●[/] dagster: {dagster_url} (webserver and daemon: schedules and sensors run)")
        for line in dagster.login_lines():
            console.print(f"  {line}", soft_wrap=True)  # unwrapped: the path stays one piece
    from tracktracker_assets.cli.summary import print_summary

    if demo and demo_pending(settings):
        demo_ids, _ = load_demo(settings, console)
        print_summary(settings, console, demo_ids)
    else:
        print_summary(settings, console)
    if ui:
        superset_cli.start_and_provision(settings, console, superset_begun)
    _next_steps(settings, console)


def _heal(settings: Settings, console: Console) -> None:
    """What a crash may have left: runs of dead processes (holding the one dbt slot) and erasures that
    were cut short."""
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.liveness import reclaim_stale_runs
    from tracktracker_assets.users.erasure import resume_pending, summary

    for reclaimed in reclaim_stale_runs(get_instance(settings)):
        console.print(f"[yellow]![/] {reclaimed}: marked failed, its slots freed")
    for erasure in resume_pending(settings, console):
        console.print(summary(erasure))


def init(settings: Settings, console: Console) -> None:
    """docker-compose's one-off init: what `up` prepares, against the external servers (idempotent).
    The dashboards are provisioned once Superset answers (`tracktracker superset provision`)."""
    from tracktracker_assets.dashboards import service
    from tracktracker_assets.orchestration.instance import prepare_dagster_home
    from tracktracker_assets.transform.project import ensure_manifest

    start_storage(settings)
    prepare_dagster_home(settings)
    ensure_manifest(settings)
    service.bootstrap(settings)
    console.print("Warehouse, registry, Dagster instance, dbt project and Superset metadata are ready.")


def _next_steps(settings: Settings, console: Console) -> None:
    console.print()
    console.print("[bold]Query further[/] (CSV to stdout):")
    console.print(
        "  ./tracktracker sql \"select * from gold.agg_top_artists where period = 'all' and rank <= 5\""
    )
    console.print("[bold]Your own data:[/]")
    console.print("  ./tracktracker users add alice --timezone Europe/Berlin")
    console.print("  ./tracktracker import alice ~/Downloads/my_spotify_data.zip")
    console.print(f"[dim]State lives in {settings.home}; stop everything with `./tracktracker down`.[/]")


def down(settings: Settings, console: Console) -> None:
    """Stop every process `up` started (by PID, process groups included); data stays."""
    from tracktracker_assets.cli import superset as superset_cli
    from tracktracker_assets.services import command_process
    from tracktracker_assets.services.dagster import DagsterServices
    from tracktracker_assets.services.processes import all_at_once

    # the storage last: the others may still write to it as they stop (a run's end, a heartbeat)
    all_at_once(
        partial(superset_cli.stop, settings, console),
        DagsterServices(settings).stop,
        partial(command_process.stop, settings),
    )
    stop_storage(settings)
    console.print("Stopped. Data is kept in " + str(settings.home))


def service_states(settings: Settings) -> list:
    from tracktracker_assets.cli import superset as superset_cli
    from tracktracker_assets.services.dagster import DagsterServices
    from tracktracker_assets.services.local import ServiceState

    dagster = DagsterServices(settings)
    webserver = dagster.webserver_healthy()
    daemon = dagster.daemon_pid()
    code = dagster.code_server_pid()
    return [
        *storage_states(settings),
        ServiceState("dagster code server", code is not None, f"pid {code}" if code else "stopped"),
        ServiceState(
            "dagster", webserver, f"{dagster.url}, pid {dagster.webserver_pid()}" if webserver else "stopped"
        ),
        ServiceState("dagster daemon", daemon is not None, f"pid {daemon}" if daemon else "stopped"),
        superset_cli.state(settings),
        _command_process_state(settings),
    ]


def _command_process_state(settings: Settings) -> object:
    from tracktracker_assets.services import command_process
    from tracktracker_assets.services.local import ServiceState

    pid = command_process.running(settings)
    if pid is None:
        return ServiceState("commands", False, "stopped (each command loads Dagster and dbt itself)")
    if not command_process.ready(settings):
        return ServiceState("commands", False, f"warming up, pid {pid}")
    return ServiceState("commands", True, f"warm, pid {pid} (log: {command_process.log_file(settings)})")


def status(settings: Settings, console: Console) -> None:
    from tracktracker_assets.cli.output import print_table
    from tracktracker_assets.warehouse.db import connect, table_exists

    states = service_states(settings)
    for state in states:
        mark = "[green]●[/]" if state.running else "[red]○[/]"
        console.print(f"{mark} {state.name}: {state.detail}")
    if not all(s.running for s in states[:2]):
        console.print("Start the services with `tracktracker up`.")
        return
    with open_registry(settings) as registry:
        users = {u.user_id: u for u in registry.list_users()}
    freshness: dict[str, tuple] = {}
    conn = connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("select user_id, max(loaded_at) from bronze.loaded_files group by user_id")
            imports = dict(cur.fetchall())
            if table_exists(conn, "gold.user_status"):
                cur.execute("select user_id, plays, last_play_at from gold.user_status")
                freshness = {r[0]: r[1:] for r in cur.fetchall()}
    finally:
        conn.close()
    rows = []
    for user_id, user in users.items():
        plays, last_play = freshness.get(user_id, (0, None))
        rows.append(
            [
                user_id,
                user.status,
                plays,
                f"{last_play:%Y-%m-%d %H:%M}" if last_play else "-",
                f"{imports[user_id]:%Y-%m-%d %H:%M}" if user_id in imports else "-",
                # every successful pull, also one that found nothing new
                f"{user.last_pull_at:%Y-%m-%d %H:%M}" if user.last_pull_at else "-",
                user.problems,  # Spotify's, then Last.fm's and ListenBrainz's
            ]
        )
    print_table(
        "Users (times in UTC)",
        ["user", "status", "plays", "last play", "last import", "last pull", "problem"],
        rows,
    )
    accounts = [
        [user_id, user.lastfm_user or "-", user.listenbrainz_user or "-"]
        for user_id, user in users.items()
        if user.lastfm_user or user.listenbrainz_user
    ]
    if accounts:  # pulled with Spotify's; their problems are in the users' problem column
        print_table("Last.fm and ListenBrainz accounts", ["user", "Last.fm", "ListenBrainz"], accounts)
    daemon = next((s.running for s in states if s.name == "dagster daemon"), False)
    inbox = inbox_rows(settings, set(users), daemon_running=daemon)
    if inbox:
        print_table("Inbox: files waiting", ["user", "file", "size", "state", "why it waits"], inbox)


def inbox_rows(settings: Settings, registered: set[str], *, daemon_running: bool) -> list[list[str]]:
    """One row per entry waiting in an inbox, with why it waits: still being written (settling),
    an interrupted copy, or complete and waiting for a load run (and whether one is coming)."""
    from tracktracker_assets.exports.inbox import inbox_report
    from tracktracker_assets.exports.retention import size_text

    root = settings.inbox_root
    rows: list[list[str]] = []
    in_flight: bool | None = None
    for user_id in sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []:
        for waiting in inbox_report(settings, user_id):
            detail = waiting.detail
            if waiting.state in ("ready", "not a file"):
                if in_flight is None:
                    in_flight = _load_run_in_flight(settings)
                if user_id not in registered:
                    detail = "not a registered listener's inbox: never loaded (`tracktracker users add`)"
                elif in_flight:
                    detail += "; a load run is queued or running, it or the sensor's next tick takes it"
                elif daemon_running:
                    detail += "; the daemon's inbox sensor starts a load run within a minute"
                else:
                    detail += "; the daemon is not running: `tracktracker up` starts it"
            rows.append([user_id, waiting.name, size_text(waiting.size), waiting.state, detail])
    return rows


def _load_run_in_flight(settings: Settings) -> bool:
    from tracktracker_assets.exports.jobs import import_exports_job
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.liveness import job_in_flight

    return job_in_flight(get_instance(settings), import_exports_job.name)
