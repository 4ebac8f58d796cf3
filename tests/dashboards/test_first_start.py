"""Superset's first-start commands share one process and one app (tracktracker_assets/dashboards/
first_start.py); every start of Superset in the suite goes through them (service.bootstrap)."""

from __future__ import annotations

import re
import subprocess
import sys

from tracktracker_assets.dashboards import service
from tracktracker_assets.dashboards.first_start import split_commands

FIRST_START = "tracktracker_assets.dashboards.first_start"


def test_the_arguments_split_into_commands_at_each_double_dash() -> None:
    argv = ["db", "upgrade", "--", "fab", "create-admin", "--username", "a", "--", "init"]
    assert split_commands(argv) == [
        ["db", "upgrade"],
        ["fab", "create-admin", "--username", "a"],
        ["init"],
    ]
    assert split_commands(["--", "init", "--"]) == [["init"]]
    assert split_commands([]) == []


def test_commands_run_in_order_on_one_app_and_the_first_failure_stops_the_rest(settings) -> None:
    service.ensure_metadata_role(settings)  # as bootstrap does first: Superset's app connects as it starts
    result = subprocess.run(
        [sys.executable, "-m", FIRST_START, "version", "--", "no-such-command", "--", "version"],
        env=service._env(settings),
        cwd=settings.home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    # the third command never ran
    assert re.findall(r"^==== superset (.+)$", result.stdout, re.M) == ["version", "no-such-command"], (
        result.stdout
    )
    assert "Superset 6" in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert "`superset no-such-command` failed: No such command 'no-such-command'" in result.stderr
    # Superset's app (our blueprint registers as it is built) was built once for both commands
    assert result.stderr.count("Registering blueprint: tracktracker") == 1, result.stderr[-2000:]


def test_no_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", FIRST_START, "--"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "usage: first_start COMMAND" in result.stderr


def test_superset_says_it_cannot_reach_its_database_without_printing_the_password(settings) -> None:
    """Superset prints its metadata database's URL when it cannot connect as it starts (to its log,
    in local mode); the password stays out of that URL (superset_config.py's pgpass file)."""
    from tracktracker_assets.services.state import free_port

    password = "not-a-real-password-3f9c1e"
    env = service._env(settings)
    env["TRACKTRACKER_SUPERSET_DATABASE_URL"] = (
        f"postgresql://superset_meta:{password}@127.0.0.1:{free_port()}/superset"  # nobody listens there
    )
    result = subprocess.run(
        [sys.executable, "-m", FIRST_START, "version"],
        env=env,
        cwd=settings.home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert "Cannot connect to database postgresql://superset_meta@127.0.0.1:" in output, output[-2000:]
    assert password not in output
    pgpass = settings.secrets_dir / "superset-metadata.pgpass"
    assert pgpass.stat().st_mode & 0o777 == 0o600 and pgpass.read_text().endswith(f":{password}\n")
