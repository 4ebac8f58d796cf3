"""`tracktracker superset ...` and the Superset steps of `up`, `down`, `status` and `users add|remove`.

Hooks for the other commands (each takes the settings and the console):
    begin_in_background(settings, serve)     in `up`, once storage runs: Superset's first-start work
    start_and_provision(settings, console)   in `up`, later: Superset started, provisioned, URLs printed
    stop(settings, console)                  in `down`
    state(settings)                          in `status`: a ServiceState line
    on_user_added(settings, console, id)     after `users add`: the listener's Superset account
    on_user_removed(settings, console, id)   after `users remove`: delete it
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from functools import partial
from secrets import token_urlsafe
from typing import Any

import click
from rich.console import Console

from tracktracker_assets.settings import Settings, get_settings


def _console() -> Console:
    # made per command: messages go to the stderr of the moment (tests capture it)
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


# ---- hooks ------------------------------------------------------------------------------------------
def begin_in_background(settings: Settings, *, serve: bool) -> Future[Any] | None:
    """Superset's first-start work (its metadata migrated, the admin made, roles synced: ~20 s, in
    subprocesses) begun now, and with `serve` its server's start (~7 s) after it, so that they run
    while `up` warms the commands, starts Dagster and loads the demo. Not served while the demo loads:
    the demo's refresh would warm dashboards that are not provisioned yet. None when there is nothing
    to begin here (Superset runs already, or elsewhere)."""
    from tracktracker_assets.dashboards import service
    from tracktracker_assets.services.processes import in_background

    if service.external_url() or service.is_running(settings):
        return None
    work = service.start if serve else service.prepare
    return in_background(partial(work, settings), "superset-start" if serve else "superset-prepare")


def start_and_provision(settings: Settings, console: Console, begun: Future[Any] | None = None) -> str:
    """Start Superset (first start ~40 s: migrations, admin, roles) and make it match the code.
    begun: begin_in_background's work, waited for (and its error raised) first."""
    from tracktracker_assets.dashboards import provision, service

    with console.status("Starting Superset (the first start takes about a minute)..."):
        if begun is not None:
            begun.result()
        base_url = service.start(settings)  # at once when the work begun started it
    with console.status("Provisioning Superset: database, datasets, charts, dashboards, listeners..."):
        done = provision.provision(settings)
    listeners = done.listeners
    console.print(
        f"[green]●[/] superset: {base_url} ({len(done.dashboards)} dashboards, {len(done.charts)} charts"
        + (", bundle imported" if done.imported else ", up to date")
        + ")"
    )
    for user_id in listeners.created:
        _print_login(settings, console, user_id)
    if listeners.removed:
        console.print(f"  Superset accounts of removed users deleted: {', '.join(listeners.removed)}")
    for user_id in listeners.conflicts:
        console.print(
            f"[yellow]![/] {user_id!r} names a Superset account that is not a listener's; "
            "that listener has no Superset login. Use another user id."
        )
    urls = provision.dashboard_urls(settings)
    console.print(f"  Dashboards: {urls.get('Current listening', base_url)} (and 3 more)")
    console.print(f"  Listeners upload exports and connect Spotify at {base_url}/tracktracker/upload")
    console.print(
        f"  Admin: user [bold]admin[/], password in {settings.secrets_dir / 'superset-admin-password'}"
    )
    return base_url


def stop(settings: Settings, console: Console) -> None:
    from tracktracker_assets.dashboards import service

    service.stop(settings)


def state(settings: Settings) -> Any:
    """Superset's line in `tracktracker status` (a services.local.ServiceState)."""
    from tracktracker_assets.dashboards import service
    from tracktracker_assets.services.local import ServiceState

    if service.is_running(settings):
        return ServiceState("superset", True, f"{service.url(settings)}, pid {service.running_pid(settings)}")
    return ServiceState("superset", False, "stopped")


def on_user_added(settings: Settings, console: Console, user_id: str) -> None:
    """Create or update the listener's Superset account now if Superset runs, else at the next `up`."""
    from tracktracker_assets.dashboards import service

    if not service.is_running(settings):
        console.print("Their Superset login is created when Superset next starts (`tracktracker up`).")
        return
    # only now: Superset's client brings in requests (0.1 s of a `users add` while it is stopped)
    from tracktracker_assets.dashboards import listeners, provision
    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as registry:
        user = registry.require_user(user_id)
    try:
        outcome = listeners.ensure_listener(provision.admin_client(settings), settings, user)
    except listeners.AccountConflict as exc:
        console.print(f"[yellow]![/] {exc}")
        return
    if outcome == "created":
        _print_login(settings, console, user_id)


def on_user_removed(settings: Settings, console: Console, user_id: str) -> None:
    """Delete the listener's Superset account (or, if Superset is down, at the next `up`)."""
    from tracktracker_assets.dashboards import listeners, provision, service

    if not service.is_running(settings):
        listeners.password_file(settings, user_id).unlink(missing_ok=True)
        return
    if listeners.remove_listener(provision.admin_client(settings), settings, user_id):
        console.print(f"Their Superset account {user_id!r} was deleted.")


def _print_login(settings: Settings, console: Console, user_id: str) -> None:
    from tracktracker_assets.dashboards import listeners, service

    password = listeners.listener_password(settings, user_id)
    if password is None:
        return
    console.print(
        f"  Superset login for [bold]{user_id}[/]: {service.url(settings)}/login/  "
        f"user [bold]{user_id}[/]  password [bold]{password}[/]"
        f"  (kept in {listeners.password_file(settings, user_id)})"
    )


# ---- `tracktracker superset ...` --------------------------------------------------------------------
def _friendly(func: Any) -> Any:
    from tracktracker_assets.cli.output import friendly_errors

    return friendly_errors(func)


@click.group()
def superset() -> None:
    """The Superset dashboards: provision them, start/stop Superset, listeners' logins."""


@superset.command()
@_friendly
def provision() -> None:
    """Apply superset/: database, datasets, charts, dashboards, roles, row-level security and one login
    per listener. Idempotent. Starts PostgreSQL, the registry and Superset when needed."""
    from tracktracker_assets.services.local import start_storage

    settings = get_settings()
    start_storage(settings)
    start_and_provision(settings, _console())


@superset.command("stop")
@_friendly
def stop_command() -> None:
    """Stop Superset (`tracktracker up` starts it again)."""
    stop(get_settings(), _console())


@superset.command()
@click.argument("user_id")
@click.option("--reset", is_flag=True, help="Generate a new password (the old one stops working).")
@_friendly
def login(user_id: str, reset: bool) -> None:
    """Show the Superset login of a listener (URL, user, password)."""
    from tracktracker_assets.dashboards import listeners, provision, service
    from tracktracker_assets.services.local import open_registry, start_storage

    settings = get_settings()
    start_storage(settings)
    with open_registry(settings) as registry:
        user = registry.require_user(user_id)
    if not service.is_running(settings):
        raise RuntimeError("Superset is not running: start it with `tracktracker up`.")
    if reset:
        password = token_urlsafe(24)
        listeners.ensure_listener(provision.admin_client(settings), settings, user, password=password)
        listeners.store_password(settings, user_id, password)
    elif listeners.listener_password(settings, user_id) is None:
        raise RuntimeError(
            f"No stored password for {user_id!r} (it was set by hand or changed in Superset); "
            f"use `tracktracker superset login {user_id} --reset` for a new one."
        )
    _print_login(settings, _console(), user_id)


@superset.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=int)
@_friendly
def serve(host: str, port: int) -> None:
    """Serve Superset in the foreground (docker-compose; locally `up` runs it in the background)."""
    from tracktracker_assets.dashboards import service

    service.serve(get_settings(), host, port)
