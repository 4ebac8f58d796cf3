"""The command process (services/command_process.py): `tracktracker import`, run as a person runs it (a new
process), is handed to a fork of a process that has Dagster, dbt and the definitions loaded, and so is
the refresh's dbt. The result is the same import: the same gold, the same messages and exit statuses;
Ctrl-C and a caller killed outright end the fork's run as they end the CLI's own; a caller of other
code or other settings, or a process that is not there, runs the command itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, REPO, cli, start_command_process
from tracktracker_assets.services import command_process
from tracktracker_assets.services.processes import eventually, pid_alive

TRACKTRACKER = REPO / ".venv" / "bin" / "tracktracker"
EXPORT = REAL_DATA / "spotify-extended" / "CandidlyRed--endsong.json"
DBT_THREADS = 4  # dbt/profiles.yml's default


# the environment the command process and its callers share, as a shell's commands share it: taken once,
# since this process's own Dagster runs add the variables they derive from the settings to os.environ
ENVIRON: dict[str, str] = {}


@pytest.fixture(scope="module")
def warmed(settings) -> Iterator[object]:
    """A command process of this module's own (the worker's, tests/conftest.py, is stopped meanwhile)."""
    command_process.stop(settings)
    ENVIRON.update(os.environ)
    # every statement in dbt.log: whether dbt parsed the project itself shows there (parsed_itself)
    ENVIRON["TRACKTRACKER_DBT_LOG_LEVEL"] = "debug"
    start_command_process(settings, ENVIRON)
    yield settings
    command_process.stop(settings)
    assert command_process.running(settings) is None and not command_process.socket_path(settings).exists()
    start_command_process(settings)


def log_lines(settings) -> list[str]:
    return command_process.log_file(settings).read_text().splitlines()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TRACKTRACKER), *args], capture_output=True, text=True, env=env or ENVIRON, timeout=600
    )


def served_since(settings, mark: int) -> list[str]:
    return [line for line in log_lines(settings)[mark:] if " in fork " in line]


def gold_of(conn, user_id: str) -> tuple:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*), sum(ms_played), count(distinct track_key), count(distinct session_id), "
            "min(ended_at), max(ended_at) from gold.fct_plays where user_id = %s",
            (user_id,),
        )
        return cur.fetchone()


def newest_dbt_log(settings) -> str:
    """The log of the newest dbt invocation of a refresh (dagster-dbt gives each its own folder)."""
    runs = [path for path in settings.dbt_target_dir.glob("dbt_silver_gold-*") if path.is_dir()]
    return (max(runs, key=lambda path: path.stat().st_mtime) / "dbt.log").read_text()


def connections_opened(dbt_log: str) -> int:
    return dbt_log.count('"name": "NewConnectionOpening"')


def nodes_run(dbt_log: str) -> int:
    return dbt_log.count('"name": "LogModelResult"') + dbt_log.count('"name": "LogTestResult"')


def parsed_itself(dbt_log: str) -> bool:
    """dbt read its project (partial parsing) rather than being given the command process's parse."""
    return "Partial parsing enabled" in dbt_log


def test_an_import_handed_to_the_command_process_is_the_same_import(warmed, conn) -> None:
    settings = warmed
    for user in ("warm-ana", "warm-ben"):
        assert cli("users", "add", user, "--timezone", "Europe/Berlin")[0] == 0
    mark = len(log_lines(settings))
    served = run("import", "warm-ana", str(EXPORT))
    assert served.returncode == 0, served.stderr
    assert f"✓ {EXPORT.name}" in served.stderr and "Silver and gold refreshed" in served.stderr
    assert "INFO:" not in served.stderr, served.stderr  # no library's log lines: what a command alone shows
    forks = served_since(settings, mark)
    assert [line.split(" commands: ")[1].split(" (from")[0] for line in forks] == [
        "tracktracker import warm-ana",
        "dbt build --log-level-file",  # the refresh's dbt, in a fork too
    ], forks

    dbt_log = newest_dbt_log(settings)
    assert not parsed_itself(dbt_log)  # its dbt built from the parse the process kept
    # its log at debug: every statement written, as dbt alone writes them (transform/unlogged_events.py)
    assert '"name": "SQLQuery"' in dbt_log and '"name": "SQLQueryStatus"' in dbt_log
    # each of its threads kept one connection from node to node (transform/kept_connections.py)
    assert 0 < connections_opened(dbt_log) <= DBT_THREADS + 1 < nodes_run(dbt_log)

    # the same file, imported by a command that runs itself, with a dbt setting the kept parse was not
    # made with (so its dbt parses the project itself): the same gold
    mark = len(log_lines(settings))
    env = {**ENVIRON, command_process.SERVED: "1", "DBT_USE_EXPERIMENTAL_PARSER": "false"}
    alone = run("import", "warm-ben", str(EXPORT), env=env)
    assert alone.returncode == 0, alone.stderr
    assert "INFO:" not in alone.stderr, alone.stderr
    assert [line for line in served_since(settings, mark) if "tracktracker" in line] == []
    assert parsed_itself(newest_dbt_log(settings))
    assert gold_of(conn, "warm-ana") == gold_of(conn, "warm-ben") and gold_of(conn, "warm-ana")[0] > 0

    # an already-loaded file and a refused one say what they say in a command of its own
    mark = len(log_lines(settings))
    again = run("import", "warm-ana", str(EXPORT))
    assert again.returncode == 0 and f"= {EXPORT.name}" in again.stderr, again.stderr
    broken = Path(settings.home) / "Streaming_History_Audio_2020.json"
    broken.write_text('[{"ts": "2020-01-01T00:00:00Z", "ms_played": ')
    refused = run("import", "warm-ana", str(broken))
    assert refused.returncode == 1 and "rejected" in refused.stderr and broken.name in refused.stderr
    assert len(served_since(settings, mark)) == 2


def test_a_caller_of_other_settings_or_code_runs_the_command_itself(warmed) -> None:
    settings = warmed
    mark = len(log_lines(settings))
    other = {**ENVIRON, "TRACKTRACKER_SUPERSET_CACHE_TIMEOUT": "301"}
    result = run("import", "warm-ana", str(EXPORT), env=other)
    assert result.returncode == 0 and f"= {EXPORT.name}" in result.stderr, result.stderr
    assert served_since(settings, mark) == []
    declined = log_lines(settings)[mark:]
    assert any("differ" in line and "TRACKTRACKER_SUPERSET_CACHE_TIMEOUT" in line for line in declined)
    assert all("301" not in line for line in declined)  # names, never values (they may be secrets)

    # a caller whose code changed since the process started: declined, with the reason
    request = {"program": "tracktracker", "argv": ["--help"], "cwd": "/", "env": ENVIRON, "stamp": "x"}
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
        conn.connect(str(command_process.socket_path(settings)))
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        reply = json.loads(conn.recv(65536))
    assert reply["accepted"] is False and "code" in reply["reason"]


def test_without_a_command_process_a_command_runs_itself(settings, tmp_path) -> None:
    from dataclasses import replace

    elsewhere = replace(settings, home=tmp_path)
    assert command_process.hand_over(elsewhere, ["import", "nobody", "x.json"]) is None
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "commands.sock").touch()  # left by a process that died
    assert command_process.hand_over(elsewhere, ["import", "nobody", "x.json"]) is None


def test_a_fork_leaves_what_the_command_process_loaded_to_it(tmp_path) -> None:
    """What the warm-up loaded is frozen out of the cycle collector's reach: a fork's first full
    collection would walk all of it (a quarter of a second in each import, and in each refresh's dbt)."""
    env = {**os.environ, "TRACKTRACKER_HOME": str(tmp_path)}
    env.pop(command_process.SERVED, None)
    server = textwrap.dedent(
        """
        import gc, sys
        from tracktracker_assets.services import command_process
        from tracktracker_assets.settings import get_settings

        loaded = []

        def warm_up():
            loaded.extend([n] for n in range(100_000))  # what an import would load, as lists the GC tracks
            return "warmed"

        def probe():
            sys.exit(0 if gc.get_freeze_count() >= 100_000 else 3)

        command_process.serve(get_settings(), warm_up, {"probe": probe})
        """
    )
    caller = (
        "import sys\n"
        "from tracktracker_assets.services import command_process\n"
        "from tracktracker_assets.settings import get_settings\n"
        "status = command_process.hand_over(get_settings(), [], program='probe')\n"
        "sys.exit(9 if status is None else status)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", server], env=env, cwd=REPO)
    try:
        assert eventually(lambda: (tmp_path / "run" / "commands.sock").exists(), timeout=60)
        probed = subprocess.run([sys.executable, "-c", caller], env=env, cwd=REPO, timeout=60)
        assert probed.returncode == 0  # handed over (not 9), and the fork found the warm-up frozen (not 3)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _long_import(settings, user: str) -> Path:
    """A file whose import runs long enough to be interrupted in its middle."""
    sys.path.insert(0, str(REPO / "bench"))
    from datetime import UTC, datetime

    from bench_platforms import spotify_plays, write_spotify

    path = Path(settings.home) / f"Streaming_History_Audio_{user}.json"
    write_spotify(path, spotify_plays(150_000, datetime(2011, 1, 1, tzinfo=UTC)))
    return path


def _fork_of(settings, mark: int, what: str) -> int:
    assert eventually(lambda: any(what in line for line in served_since(settings, mark)), timeout=60)
    line = next(line for line in served_since(settings, mark) if what in line)
    return int(re.search(r"in fork (\d+)", line).group(1))


@pytest.mark.parametrize("how", ["ctrl-c", "killed"])
def test_a_caller_interrupted_or_killed_ends_the_forks_run(warmed, how: str) -> None:
    settings = warmed
    user = f"warm-{how}"
    assert cli("users", "add", user)[0] == 0
    path = _long_import(settings, user)
    mark = len(log_lines(settings))
    caller = subprocess.Popen(
        [str(TRACKTRACKER), "import", user, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENVIRON,
    )
    from dagster import DagsterRunStatus, RunsFilter

    from tracktracker_assets.orchestration.instance import get_instance

    instance = get_instance(settings)
    fork = _fork_of(settings, mark, f"tracktracker import {user}")
    # into the load run (reading and loading 150,000 plays lasts seconds), however busy the machine
    started = RunsFilter(statuses=[DagsterRunStatus.STARTED])
    assert eventually(lambda: bool(instance.get_runs(started)), timeout=120)
    caller.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    _, stderr = caller.communicate(timeout=120)
    assert caller.returncode != 0
    if how == "ctrl-c":  # the fork's own message, on the caller's terminal
        assert "Interrupted by SIGINT" in stderr, stderr
    assert eventually(lambda: not pid_alive(fork), timeout=120), f"fork {fork} still runs"
    unfinished = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED]
    assert instance.get_runs(RunsFilter(statuses=unfinished)) == []  # none left looking alive
    # what the interrupted import had taken in waits for the next try; not left in a home the inbox
    # sensor's tests share
    shutil.rmtree(settings.inbox(user), ignore_errors=True)


def test_the_kept_parse_serves_only_the_dbt_command_it_was_made_for(monkeypatch) -> None:
    from types import SimpleNamespace

    from tracktracker_assets.transform import parsed
    from tracktracker_assets.transform.project import DBT_PROJECT_DIR

    project = str(DBT_PROJECT_DIR)
    made_with = {
        "TT_DBT_HOST": "127.0.0.1",
        "TT_DBT_PORT": "5432",
        "DBT_PROFILES_DIR": project,
        "TRACKTRACKER_COUNTED_PLAY_MS": "30000",  # read by a model with env_var()
    }
    manifest = SimpleNamespace(env_vars={"TRACKTRACKER_COUNTED_PLAY_MS": "30000"})
    kept = parsed.Parsed(manifest, parsed._dbt_settings(made_with, set(manifest.env_vars)))
    monkeypatch.setattr(parsed, "_parsed", kept)
    # a refresh's dbt, as dagster-dbt starts it: its own target and log folders, JSON logs
    refresh = {
        **made_with,
        "HOME": "/root",
        "DBT_TARGET_PATH": "/tmp/run-1",
        "DBT_LOG_PATH": "/tmp/run-1",
        "DBT_LOG_FORMAT": "json",
        "DBT_PROJECT_DIR": project,
        "TRACKTRACKER_DBT_PARENT": "4242",
    }
    argv = ["build", "--exclude", "test_type:unit tag:static", "--select", "fqn:*", "--full-refresh"]
    assert parsed.usable(argv, refresh, "/") is kept
    # what it logs and writes besides the warehouse is not what it parses to
    assert parsed.usable([*argv, "--log-level-file", "debug", "--no-write-json"], refresh, "/") is kept
    assert parsed.usable(["build", "--select=fqn:*"], {**refresh, "DBT_PROJECT_DIR": ""}, project) is kept

    # anything a parse reads, other than it was: dbt parses itself
    assert parsed.usable(["parse"], refresh, "/") is None
    assert parsed.usable(["build", "--vars", "{days: 3}"], refresh, "/") is None
    assert parsed.usable(["build", "--target", "other"], refresh, "/") is None
    assert parsed.usable(argv, {**refresh, "DBT_PROJECT_DIR": "/elsewhere"}, "/") is None
    assert parsed.usable(argv, {**refresh, "TT_DBT_PORT": "5433"}, "/") is None  # another warehouse
    assert parsed.usable(argv, {**refresh, "TRACKTRACKER_COUNTED_PLAY_MS": "1000"}, "/") is None
    assert parsed.usable(argv, {**refresh, "DBT_TARGET": "ci"}, "/") is None
    monkeypatch.setattr(parsed, "_parsed", None)  # none kept (the project did not parse)
    assert parsed.usable(argv, refresh, "/") is None


def test_the_warm_up_loads_nothing_that_reads_the_callers_terminal_or_time_zone(tmp_path) -> None:
    """A fork inherits what the warm-up imported. A module that reads the environment when imported
    must be imported in the fork, after it took on the caller's: the CLI's own (its console reads the
    terminal) and babel's local time zone (through dbt's agate helper) stay out of the warm-up."""
    env = {**os.environ, "TRACKTRACKER_HOME": str(tmp_path)}
    probe = textwrap.dedent(
        """
        import sys
        from tracktracker_assets.cli import command_server
        from tracktracker_assets.transform import parsed

        parsed.parse = lambda settings: "not parsed"  # the project's parse: not what this test is about
        command_server.warm_up()
        missing = [m for m in command_server.IMPORTED_LATER if m not in sys.modules]
        readers = ("babel.localtime", "tracktracker_assets.cli.main", "tracktracker_assets.cli.output")
        loaded = [m for m in readers if m in sys.modules]
        print(missing, loaded)
        sys.exit(0 if not missing and not loaded else 3)
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
