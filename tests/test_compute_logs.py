"""A run's stdout and stderr: in Dagster's compute log files and on the terminal, copied by a thread of
the run's process (orchestration/compute_logs.py), so that no process of the run's capture outlives
it. Dagster's own manager starts `tail -F` and a watcher per stream; killed between the two, a run
left its `tail` running for ever with the run's environment (found by the secrets sweep)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracktracker_assets.services.processes import eventually

REPO = Path(__file__).resolve().parents[1]
LOG_KEY = ["run-1", "compute_logs", "abcdefgh"]

# a run's capture in a process of its own: the redirection swaps the process's descriptors 1 and 2
CAPTURE = textwrap.dedent(
    f"""
    import os, subprocess, sys, time
    from tracktracker_assets.orchestration.compute_logs import ThreadMirroredComputeLogManager

    def children():
        count = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = open(f"/proc/{{pid}}/stat").read()
            except OSError:
                continue  # a process that ended meanwhile
            count += stat.rsplit(")", 1)[1].split()[1] == str(os.getpid())
        return count

    manager = ThreadMirroredComputeLogManager.from_config_value(None, {{}})
    with manager.capture_logs({LOG_KEY!r}):
        print("a line printed", flush=True)
        print("a warning", file=sys.stderr, flush=True)
        os.write(1, b"a line written to descriptor 1\\n")
        subprocess.run(["echo", "a child's line"], check=True)
        # the process's children now, to a file of the test's (descriptors 1 and 2 are the logs)
        with open(os.environ["CHILDREN_REPORT"], "w") as report:
            report.write(str(children()))
        if sys.argv[1:] == ["wait"]:
            print("waiting", flush=True)
            time.sleep(60)
    print("after the run")
    """
)


def _capture(dagster_home: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": str(REPO),
        "CHILDREN_REPORT": str(dagster_home / "children"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", CAPTURE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _log(dagster_home: Path, extension: str) -> str:
    return (dagster_home / "storage" / Path(*LOG_KEY[:-1]) / f"{LOG_KEY[-1]}.{extension}").read_text()


def test_a_runs_output_reaches_its_log_files_and_the_terminal_with_no_process_started(tmp_path) -> None:
    process = _capture(tmp_path)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    printed = ["a line printed", "a line written to descriptor 1", "a child's line"]
    # the terminal, in order, then what the process printed after its run
    assert stdout.splitlines() == [*printed, "after the run"]
    assert "a warning" in stderr.splitlines()
    # Dagster's files, where the Dagster UI reads them, and the mark of a finished capture
    assert _log(tmp_path, "out").splitlines() == printed
    assert _log(tmp_path, "err").splitlines() == ["a warning"]
    assert (tmp_path / "storage" / Path(*LOG_KEY[:-1]) / f"{LOG_KEY[-1]}.complete").exists()
    # while capturing, the run's process had no child (the `echo` had ended): no `tail`, no watcher
    assert (tmp_path / "children").read_text() == "0"


def test_a_run_killed_while_capturing_leaves_no_process_behind(tmp_path) -> None:
    process = _capture(tmp_path, "wait")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "a line printed"
        assert eventually(lambda: "waiting" in _log(tmp_path, "out"), timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    logs = str(tmp_path / "storage")

    def following_the_logs() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if proc.name.isdigit() and logs in command:
                found.append(command)
        return found

    assert following_the_logs() == []


def test_without_dagster_home_or_a_folder_it_says_what_to_set(monkeypatch) -> None:
    from tracktracker_assets.orchestration.compute_logs import ThreadMirroredComputeLogManager

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(RuntimeError, match=r"DAGSTER_HOME is not set.*base_dir in\s+dagster\.yaml"):
        ThreadMirroredComputeLogManager.from_config_value(None, {})
    given = ThreadMirroredComputeLogManager.from_config_value(None, {"base_dir": "/srv/logs"})
    assert given._base_dir == "/srv/logs"


@pytest.mark.usefixtures("settings")
def test_the_homes_dagster_instance_captures_with_it(settings) -> None:
    from tracktracker_assets.orchestration.compute_logs import ThreadMirroredComputeLogManager
    from tracktracker_assets.orchestration.instance import get_instance

    manager = get_instance(settings).compute_log_manager
    assert isinstance(manager, ThreadMirroredComputeLogManager)
    assert Path(manager._base_dir) == settings.dagster_home / "storage"  # Dagster's default place
