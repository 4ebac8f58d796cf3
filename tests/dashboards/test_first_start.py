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
