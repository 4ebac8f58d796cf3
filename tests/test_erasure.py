"""An erasure killed midway is finished by the next `users remove`, and then nothing of the user is
left in any store. The removal runs as a real subprocess (`.venv/bin/tracktracker`) on the session's
home so it can be SIGKILLed; it is killed while it waits for the bronze write lock, which the test
holds (the point where the issue found the registry gone and the data kept)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from tests.conftest import REAL_DATA, REPO, cli
from tests.stores import traces
from tests.test_users import own_export, play_timestamps
from tracktracker_assets.warehouse.db import connect, query
from tracktracker_assets.warehouse.locks import BRONZE_LOCK_KEY

USER = "erased-midway"
NAME = "Nguyễn Midway"  # not ASCII: Dagster keeps it \\u-escaped, which must be found too


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def steps_done(url: str) -> list[str]:
    rows = query(
        url, "select steps_done from bronze.erasures where user_id = %s and completed_at is null", (USER,)
    )[1]
    return list(rows[0][0]) if rows else []


def test_an_erasure_killed_midway_is_finished_by_the_next_remove(real_gold, tmp_path: Path) -> None:
    settings = real_gold
    url = settings.database_url
    export = own_export(
        REAL_DATA / "spotify-extended" / "Efrrowini--Streaming_History_Audio_2023.json",
        tmp_path,
        "Streaming_History_Audio_midway.json",
        timedelta(days=733, seconds=13),
    )
    assert cli("users", "add", USER, "--name", NAME, "--timezone", "Pacific/Chatham")[0] == 0
    code, output = cli("import", USER, str(export))
    assert code == 0, output
    needles = [USER, NAME, "Pacific/Chatham", export.name, *play_timestamps(url, USER)]
    assert traces(settings, needles, first=True)

    lock = connect(url, autocommit=True)
    try:
        with lock.cursor() as cur:
            cur.execute("select pg_advisory_lock(hashtext(%s))", (BRONZE_LOCK_KEY,))
        env = {**os.environ, "TRACKTRACKER_HOME": str(settings.home)}
        removal = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "tracktracker"), "users", "remove", USER, "--yes"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "files" in steps_done(url) or removal.poll() is not None, 120, "the files step")
            assert removal.poll() is None, removal.stdout.read().decode()
            removal.send_signal(signal.SIGKILL)
            removal.wait(timeout=30)
        finally:
            if removal.poll() is None:
                removal.kill()
    finally:
        lock.close()

    # what the issue found: registry entry gone, data kept; now the record says what is left to do
    assert steps_done(url) == ["registry", "warehouse login", "partition", "files"]
    assert query(url, "select count(*) from gold.fct_plays where user_id = %s", (USER,))[1][0][0] > 0
    code, output = cli("users", "add", USER)
    assert code == 1 and "not finished" in output and f"users remove {USER}" in output, output

    code, output = cli("users", "remove", USER, "--yes")
    assert code == 0 and "rows erased" in output, output
    assert traces(settings, needles) == []
    code, output = cli("users", "remove", USER, "--yes")
    assert code == 1 and "Unknown user" in output
