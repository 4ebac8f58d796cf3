"""`tracktracker`: set up and run the platform, manage users, import exports, query the warehouse."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from tracktracker_assets.cli.output import console, friendly_errors
from tracktracker_assets.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """TrackTracker: your music listening, from Spotify to dashboards.

    Configuration is by environment variables (see tracktracker_assets/settings.py); all local state
    lives under TRACKTRACKER_HOME (default ./.tracktracker).
    """


# ---- services ---------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="On first start, register demo users and load the bundled demo dataset.",
)
@click.option(
    "--ui/--no-ui",
    default=True,
    show_default=True,
    help="Also run the Dagster webserver and daemon (schedules, sensors) and Superset.",
)
@friendly_errors
def up(demo: bool, ui: bool) -> None:
    """Start everything locally (embedded defaults) and load the demo on first start."""
    from tracktracker_assets.cli import lifecycle

    lifecycle.up(get_settings(), console, demo=demo, ui=ui)


@cli.command()
@friendly_errors
def init() -> None:
    """Prepare databases, Dagster, dbt and Superset's metadata without starting anything (compose)."""
    from tracktracker_assets.cli import lifecycle

    lifecycle.init(get_settings(), console)


@cli.command()
@friendly_errors
def down() -> None:
    """Stop every local service TrackTracker started (data is kept)."""
    from tracktracker_assets.cli import lifecycle

    lifecycle.down(get_settings(), console)


@cli.command()
@friendly_errors
def status() -> None:
    """Health of each service and freshness of each user's data."""
    from tracktracker_assets.cli import lifecycle

    lifecycle.status(get_settings(), console)


# ---- users ------------------------------------------------------------------------------------
@cli.group()
def users() -> None:
    """Add, change, list and remove listeners."""


@users.command("add")
@click.argument("user_id")
@click.option("--name", "display_name", help="Display name (defaults to the id).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@friendly_errors
def users_add(user_id: str, display_name: str | None, timezone: str) -> None:
    """Register a listener."""
    from tracktracker_assets.cli import people

    people.add(get_settings(), console, user_id, display_name, timezone)


@users.command("set")
@click.argument("user_id")
@click.option("--name", "display_name", help="A new display name.")
@click.option("--timezone", help="A new IANA time zone, e.g. Europe/Berlin: local days and hours follow it.")
@friendly_errors
def users_set(user_id: str, display_name: str | None, timezone: str | None) -> None:
    """Rename USER_ID, or move them to another time zone (their history's local times are recomputed)."""
    from tracktracker_assets.cli import people

    sys.exit(0 if people.change(get_settings(), console, user_id, display_name, timezone) else 1)


@users.command("list")
@friendly_errors
def users_list() -> None:
    """List listeners with their status and time zone."""
    from tracktracker_assets.cli import people

    people.list_users(get_settings(), console)


@users.command("remove")
@click.argument("user_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def users_remove(user_id: str, yes: bool) -> None:
    """Remove a listener and erase their data from every layer."""
    if not yes:
        click.confirm(f"Erase {user_id!r} and all their listening data? This cannot be undone", abort=True)
    from tracktracker_assets.cli import people

    people.remove(get_settings(), console, user_id)


@users.command("connect")
@click.argument("user_id")
@click.option("--headless", is_flag=True, help="No local browser: paste the redirected address instead.")
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening a browser.")
@friendly_errors
def users_connect(user_id: str, headless: bool, no_browser: bool) -> None:
    """Connect USER_ID's Spotify account (Web API pulls of recently played)."""
    from tracktracker_assets.cli.connect import connect_user
    from tracktracker_assets.services.local import start_storage
    from tracktracker_assets.users.accounts import mirror_users

    settings = get_settings()
    start_storage(settings)
    user = connect_user(settings, console, user_id, headless=headless, open_browser=not no_browser)
    mirror_users(settings)
    console.print(
        f"Connected [bold]{user.user_id}[/] to Spotify account {user.spotify_user_id}. Recent plays are "
        f"pulled every {settings.pull_interval_min} minutes while the daemon runs, or now with "
        "`tracktracker pull`."
    )


@users.command("connect-lastfm")
@click.argument("user_id")
@click.argument("lastfm_name")
@friendly_errors
def users_connect_lastfm(user_id: str, lastfm_name: str) -> None:
    """Pull USER_ID's Last.fm scrobbles (LASTFM_NAME: a public Last.fm profile)."""
    from tracktracker_assets.cli import people

    people.connect_lastfm_user(get_settings(), console, user_id, lastfm_name)


@users.command("connect-listenbrainz")
@click.argument("user_id")
@click.argument("lb_name")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file holding your ListenBrainz user token (optional; never given on the command line).",
)
@friendly_errors
def users_connect_listenbrainz(user_id: str, lb_name: str, token_file: Path | None) -> None:
    """Pull USER_ID's ListenBrainz listens (LB_NAME: the ListenBrainz username)."""
    from tracktracker_assets.cli import people

    people.connect_listenbrainz_user(get_settings(), console, user_id, lb_name, token_file)


@users.command("disconnect")
@click.argument("user_id")
@click.argument("service")
@friendly_errors
def users_disconnect(user_id: str, service: str) -> None:
    """Stop pulling USER_ID from SERVICE (spotify, lastfm or listenbrainz); their plays already loaded
    stay."""
    from tracktracker_assets.cli import people

    people.disconnect_user(get_settings(), console, user_id, service)


# ---- friends ----------------------------------------------------------------------------------
@cli.group()
def friends() -> None:
    """Compare listening with a friend: invite, accept, withdraw (nothing is shown before both agree)."""


@friends.command("invite")
@click.argument("user_id")
@click.argument("friend_id")
@friendly_errors
def friends_invite(user_id: str, friend_id: str) -> None:
    """USER_ID invites FRIEND_ID to compare listening."""
    from tracktracker_assets.cli import friends as friends_cli

    friends_cli.invite(get_settings(), console, user_id, friend_id)


@friends.command("accept")
@click.argument("user_id")
@click.argument("inviter_id")
@friendly_errors
def friends_accept(user_id: str, inviter_id: str) -> None:
    """USER_ID accepts INVITER_ID's invitation: both see their comparison from now on."""
    from tracktracker_assets.cli import friends as friends_cli

    friends_cli.accept(get_settings(), console, user_id, inviter_id)


@friends.command("withdraw")
@click.argument("user_id")
@click.argument("friend_id")
@friendly_errors
def friends_withdraw(user_id: str, friend_id: str) -> None:
    """USER_ID ends the friendship with FRIEND_ID (or declines or takes back an invitation)."""
    from tracktracker_assets.cli import friends as friends_cli

    friends_cli.withdraw(get_settings(), console, user_id, friend_id)


@friends.command("list")
@click.argument("user_id")
@friendly_errors
def friends_list(user_id: str) -> None:
    """USER_ID's friends and invitations, with their state."""
    from tracktracker_assets.cli import friends as friends_cli

    friends_cli.list_friends(get_settings(), console, user_id)


# ---- data -------------------------------------------------------------------------------------
@cli.command()
@click.argument("user_ids", nargs=-1)
@friendly_errors
def pull(user_ids: tuple[str, ...]) -> None:
    """Pull recently played now for connected users (all by default), then refresh silver and gold.

    One line per listener. A listener whose pull failed does not stop the others: what was loaded is
    refreshed, and the exit code is 1 when any listener was not pulled (see `tracktracker status`).
    """
    from tracktracker_assets.orchestration.pipeline import refresh_if_behind
    from tracktracker_assets.orchestration.runs import run_pull
    from tracktracker_assets.services.local import start_storage
    from tracktracker_assets.spotify.pull import PROBLEM_STATUSES

    settings = get_settings()
    start_storage(settings)
    outcome = run_pull(settings, list(user_ids) or None)
    colour = {"ok": "green", "deferred": "yellow", "skipped": "dim"}
    for pull_, line in zip(outcome.pulls, outcome.pull_lines, strict=False):
        console.print(line, style=colour.get(pull_["status"], "red"), markup=False)
    if not outcome.pulls:
        for line in outcome.pull_lines:
            console.print(line, markup=False)
    for failure in outcome.failures:
        console.print(f"[red]✗ run failed:[/] {failure}")
    # named listeners who could not be pulled count as problems; in a pull of everyone, skipping
    # those who must reconnect is the normal course
    not_pulled = [
        p["user_id"]
        for p in outcome.pulls
        if p["status"] in PROBLEM_STATUSES or (user_ids and p["status"] == "skipped")
    ]
    refreshed = refresh_if_behind(settings, console)  # also after a failure: what was loaded counts
    if not_pulled:
        console.print(
            f"[red]{len(not_pulled)} of {len(outcome.pulls)} listeners not pulled[/] "
            f"({', '.join(not_pulled)}): `tracktracker status` shows why."
        )
    sys.exit(0 if outcome.success and refreshed and not not_pulled else 1)


@cli.command("import")
@click.argument("user_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@friendly_errors
def import_(user_id: str, paths: tuple[Path, ...]) -> None:
    """Import Spotify export files or ZIPs for USER_ID, then refresh silver and gold."""
    from tracktracker_assets.services import command_process

    settings = get_settings()
    served = command_process.hand_over(settings, ["import", user_id, *map(str, paths)])
    if served is not None:  # run by the command process `up` started, on this terminal
        sys.exit(served)
    from tracktracker_assets.orchestration import pipeline

    ok = pipeline.import_files(settings, console, user_id, list(paths))
    sys.exit(0 if ok else 1)


@cli.command("export")
@click.argument("user_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "parquet"]),
    default="csv",
    show_default=True,
    help="How the tables are written (json: JSON lines).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ZIP to write (default: ./tracktracker-USER_ID-DATE.zip).",
)
@friendly_errors
def export(user_id: str, fmt: str, output: Path | None) -> None:
    """Everything of USER_ID in one ZIP: their history, every raw record, every computed table."""
    from tracktracker_assets.cli import takeout

    takeout.export(get_settings(), console, user_id, fmt, output)


@cli.command()
@click.argument("query")
@friendly_errors
def sql(query: str) -> None:
    """Run a read-only SQL QUERY on the warehouse and print CSV (with a header) to stdout."""
    import psycopg2

    from tracktracker_assets.services.local import start_storage
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    start_storage(settings)
    conn = connect(settings.database_url)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            try:
                cur.execute(query)
            except psycopg2.Error as exc:
                raise RuntimeError(f"the query failed: {(exc.pgerror or str(exc)).strip()}") from None
            writer = csv.writer(sys.stdout, lineterminator="\n")
            if cur.description is None:
                return
            writer.writerow([col.name for col in cur.description])
            for row in cur:
                writer.writerow(["" if value is None else value for value in row])
    finally:
        conn.close()


def _add_subcommands() -> None:
    from tracktracker_assets.cli.superset import superset
    from tracktracker_assets.cli.worker import worker

    cli.add_command(superset)
    cli.add_command(worker)


_add_subcommands()


def main() -> None:
    from tracktracker_assets.cli.output import quiet_library_warnings
    from tracktracker_assets.services import command_process
    from tracktracker_assets.services.home import private_umask

    command_process.remember_caller_environment()
    private_umask()  # everything under TRACKTRACKER_HOME is this user's alone (services/home.py)
    quiet_library_warnings()
    cli(prog_name="tracktracker")


if __name__ == "__main__":
    main()
