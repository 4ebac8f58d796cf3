"""Every bad input gets a clear error naming the file and the problem, exits non-zero, loads nothing of
that file, and leaves everything loaded before untouched. Through the real `tracktracker import`."""

from __future__ import annotations

import errno
import io
import json
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.warehouse.db import query

GOOD = REAL_DATA / "spotify-extended" / "mica-92--Streaming_History_Audio_2024_4.json"
USER = "badinput"


def snapshot(settings) -> tuple:
    counts = query(
        settings.database_url,
        """
        select (select count(*) from bronze.spotify_extended_history),
               (select count(*) from bronze.spotify_account_history),
               (select count(*) from bronze.loaded_files),
               (select count(*) from gold.fct_plays),
               (select coalesce(sum(ms_played), 0) from gold.fct_plays)
    """,
    )[1][0]
    return counts


@pytest.fixture(scope="module")
def loaded(real_gold):
    code, output = cli("users", "add", USER, "--timezone", "Europe/Lisbon")
    assert code == 0, output
    code, output = cli("import", USER, str(GOOD))
    assert code == 0, output
    return real_gold


def rows(n: int = 30) -> list[dict]:
    return json.loads(GOOD.read_text())[:n]


def write(tmp: Path, name: str, content: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def zipped(tmp: Path, name: str, entries: dict[str, bytes]) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return path


def _truncated(tmp: Path) -> Path:
    data = json.dumps(rows(200)).encode()
    return write(tmp, "Streaming_History_Audio_2024_9.json", data[: int(len(data) * 0.7)])


def _wrong_type(tmp: Path) -> Path:
    r = rows(50)
    r[41]["ms_played"] = "abc"
    return write(tmp, "wrong_type.json", json.dumps(r))


def _negative(tmp: Path) -> Path:
    r = rows(50)
    r[7]["ms_played"] = -1200
    return write(tmp, "negative_ms.json", json.dumps(r))


def _no_ts(tmp: Path) -> Path:
    r = rows(10)
    del r[4]["ts"]
    return write(tmp, "rows_without_ts.json", json.dumps(r))


def _account_no_end_time(tmp: Path) -> Path:
    return write(
        tmp,
        "StreamingHistory_music_0.json",
        json.dumps([{"artistName": "a", "trackName": "b", "msPlayed": 1}]),
    )


def _bomb(tmp: Path) -> Path:
    return zipped(tmp, "bomb.zip", {"endsong_0.json": b"[" + b" " * (80 << 20) + b"]"})


def _corrupt_zip(tmp: Path) -> Path:
    path = zipped(tmp, "corrupt.zip", {"endsong_0.json": json.dumps(rows(300)).encode()})
    data = bytearray(path.read_bytes())
    data[200:400] = b"\x00" * 200
    path.write_bytes(bytes(data))
    return path


def _traversal_zip(tmp: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/endsong_0.json", json.dumps(rows(5)))
        zf.writestr("../../../../tmp/evil.json", b"[]")
    return write(tmp, "traversal.zip", buffer.getvalue())


def _absolute_zip(tmp: Path) -> Path:
    return zipped(
        tmp, "absolute.zip", {"/etc/cron.d/evil.json": b"[]", "endsong_0.json": json.dumps(rows(5))}
    )


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not json": (lambda t: write(t, "endsong_0.json", "this is not json at all"), "not JSON"),
    "truncated json": (_truncated, "truncated"),
    "an object": (
        lambda t: write(t, "object.json", '{"ts": "x", "ms_played": 1}'),
        "single listening record",
    ),
    "a list of strings": (lambda t: write(t, "strings.json", '["a", "b", "c"]'), "holds strings"),
    "rows without ts": (_no_ts, "record 5"),
    "account rows without endTime": (_account_no_end_time, "neither `ts`"),
    "ms_played abc": (_wrong_type, "record 42: field `ms_played`"),
    "negative ms": (_negative, "record 8: field `ms_played`"),
    "zip without history": (
        lambda t: zipped(
            t,
            "nohistory.zip",
            {"Userdata.json": b'{"username": "x", "email": "y"}', "readme.pdf": b"%PDF-1.4"},
        ),
        "no listening history file",
    ),
    "corrupt zip": (_corrupt_zip, "corrupt"),
    "zip with ../ entry": (_traversal_zip, "unsafe entry name"),
    "zip with absolute entry": (_absolute_zip, "unsafe entry name"),
    "zip bomb": (_bomb, "zip bomb"),
    "non-utf-8 bytes": (
        lambda t: write(t, "latin1.json", json.dumps(rows(3)).encode().replace(b"android", b"andr\xf6id")),
        "not UTF-8",
    ),
    "utf-16 file": (lambda t: write(t, "utf16.json", json.dumps(rows(3)).encode("utf-16")), "not JSON"),
    "empty file": (lambda t: write(t, "empty.json", b""), "empty"),
    "a pdf named .json": (lambda t: write(t, "history.json", b"%PDF-1.7 ..."), "PDF"),
    "a library export": (
        lambda t: t / "x" if False else REAL_DATA / "spotify-account" / "hobbies-w-erin--YourLibrary.json",
        "library export",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_clearly_and_loses_nothing(loaded, tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    before = snapshot(loaded)
    code, output = cli("import", USER, str(path))
    assert code != 0, output
    assert path.name in output and expected in output, output
    assert "rejected" in output
    assert snapshot(loaded) == before
    rejected = loaded.rejected_root / USER
    assert any(p.name.endswith(path.name + ".error.txt") for p in rejected.iterdir())


def test_unknown_user(loaded) -> None:
    before = snapshot(loaded)
    code, output = cli("import", "nobody-here", str(GOOD))
    assert code == 1 and "Unknown user 'nobody-here'" in output and "users add" in output
    assert snapshot(loaded) == before
    assert not (loaded.inbox_root / "nobody-here").exists()


def test_missing_file(loaded, tmp_path: Path) -> None:
    code, output = cli("import", USER, str(tmp_path / "nope.json"))
    assert code == 1 and "nope.json: no such file" in output


def test_time_zone_that_does_not_exist(loaded) -> None:
    code, output = cli("users", "add", "tzless", "--timezone", "Europe/Atlantis")
    assert code == 1 and "Unknown time zone 'Europe/Atlantis'" in output
    code, output = cli("users", "list")
    assert "tzless" not in output


def test_same_file_twice_is_a_reported_no_op(loaded) -> None:
    from tracktracker_assets.orchestration.instance import get_instance

    instance = get_instance(loaded)
    before, runs = snapshot(loaded), instance.get_runs_count()
    code, output = cli("import", USER, str(GOOD))
    assert code == 0 and "already loaded" in output and "Nothing new" in output
    assert snapshot(loaded) == before
    # decided before any run: nothing to load and gold current, so no run starts
    assert instance.get_runs_count() == runs


def test_a_known_file_beside_a_new_one_is_loaded_by_a_run(loaded, tmp_path: Path) -> None:
    """The no-op shortcut takes only imports where every file is known: one new file among known
    ones goes through the load run as before (the known one reported as already loaded)."""
    fresh = [dict(row, ts=f"2019-02-03T04:0{i}:05Z", ms_played=123_450 + i) for i, row in enumerate(rows(3))]
    new = write(tmp_path, "Streaming_History_Audio_2019_9.json", json.dumps(fresh))
    before = snapshot(loaded)
    code, output = cli("import", USER, str(GOOD), str(new))
    assert code == 0 and "already loaded" in output and "3 new records" in output, output
    assert snapshot(loaded)[0] == before[0] + 3


def test_one_bad_file_among_good_ones(loaded, tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "new_good.json",
        json.dumps([dict(r, ts=f"2010-01-01T00:00:{i:02d}Z") for i, r in enumerate(rows(20))]),
    )
    bad = _wrong_type(tmp_path)
    before = snapshot(loaded)
    code, output = cli("import", USER, str(good), str(bad))
    assert code == 1 and "wrong_type.json" in output and "20 new records" in output
    after = snapshot(loaded)
    assert after[0] == before[0] + 20 and after[3] == before[3] + 20


def flat(output: str) -> str:
    """The CLI's output with its line wrapping undone."""
    return " ".join(output.split())


# PostgreSQL's input parser takes these as timestamps; none is a play. Then layouts it also accepts
# that are not ISO 8601, and real ISO timestamps that no play can have.
SPECIAL_WORDS = ["yesterday", "now", "today", "tomorrow", "epoch", "infinity", "-infinity", "allballs"]
NOT_ISO = ["Jan 8 2024 04:05:06", "J2460000", "2024-01-08 04:05:06 PST", "20240108T040506", "1704686706"]
NOT_A_PLAY = ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "2999-01-01T00:00:00Z"]


def test_special_date_words_and_non_iso_timestamps_are_refused(loaded, tmp_path: Path) -> None:
    """One import of many files, each with one bad time at record 7: every file refused, named with
    its record and the value, nothing of any loaded, and gold as it was."""
    cases = {}
    for i, value in enumerate(SPECIAL_WORDS + NOT_ISO + NOT_A_PLAY):
        r = rows(12)
        r[6]["ts"] = value
        cases[value] = write(tmp_path, f"ts_{i}.json", json.dumps(r))
    account = [{"endTime": "2024-01-02 10:00", "msPlayed": 1000, "artistName": "a", "trackName": "b"}] * 3
    account[1] = dict(account[1], endTime="yesterday")
    cases["account yesterday"] = write(tmp_path, "StreamingHistory_music_9.json", json.dumps(account))
    before = snapshot(loaded)
    code, output = cli("import", USER, *map(str, cases.values()))
    text = flat(output)
    assert code == 1, output
    for value, path in cases.items():
        record = 2 if value == "account yesterday" else 7
        assert f"✗ rejected {path.name}, record {record}: field `" in text, (value, output)
    for word in SPECIAL_WORDS:
        assert f'"{word}" is not a timestamp; expected an ISO 8601 date and time like' in text
    assert "1970-01-01T00:00:00Z is no possible play time (before 2006" in text
    assert "Nothing of this file was loaded" in text and "Nothing new to load" in text
    assert snapshot(loaded) == before
    notes = {p.name for p in (loaded.rejected_root / USER).glob("*.error.txt")}
    assert all(any(n.endswith(f"-{p.name}.error.txt") for n in notes) for p in cases.values())


@pytest.mark.timeout(120)
def test_pipes_devices_and_sockets_are_refused_without_blocking(loaded, tmp_path: Path) -> None:
    import socket

    fifo = tmp_path / "endsong_0.json"
    os.mkfifo(fifo)  # nobody writes to it: opening it to copy would wait forever
    linked = tmp_path / "linked.json"
    linked.symlink_to(fifo)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "history.sock"))
    inbox = loaded.inbox(USER)
    before = snapshot(loaded), sorted(inbox.iterdir())
    try:
        for path, what in [
            (fifo, "is a FIFO (named pipe), not a regular file"),
            (linked, "is a FIFO (named pipe) (through a symbolic link), not a regular file"),
            (Path("/dev/zero"), "is a character device, not a regular file"),
            (tmp_path / "history.sock", "is a socket, not a regular file"),
        ]:
            code, output = cli("import", USER, str(GOOD), str(path))
            assert code == 1 and f"{path}: {what}" in flat(output), output
            assert "copy it out of the pipe, device or socket" in flat(output)
    finally:
        server.close()
    assert (snapshot(loaded), sorted(inbox.iterdir())) == before  # not even the good file was copied


def test_a_full_disk_while_copying_into_the_inbox_keeps_nothing(loaded, tmp_path: Path, monkeypatch) -> None:
    """ENOSPC from a real tiny file system mounted on the inbox (or injected at the copy where no
    tmpfs can be mounted): a clear message, no partial `.incoming-*`, and none of the command's
    files left behind, so re-running the same command once there is space is all it takes."""
    import subprocess

    small = write(tmp_path, "small.json", json.dumps(rows(3)))
    inbox = loaded.inbox(USER)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(inbox)], check=False)
    try:
        if mounted.returncode != 0:
            from tracktracker_assets.exports import inbox as inbox_module

            def fill_then_fail(src, dst, length=0):
                if os.fstat(src.fileno()).st_size < 100_000:  # the small file fits
                    return dst.write(src.read())
                dst.write(src.read(1000))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(inbox_module.shutil, "copyfileobj", fill_then_fail)
        before = snapshot(loaded)
        code, output = cli("import", USER, str(small), str(GOOD))  # the first fits, the second does not
        text = flat(output)
        assert code == 1, output
        assert f"{GOOD.name}: the disk holding the inbox {inbox} is full (No space left on device)" in text
        assert "nothing of the file was kept" in text and f"df -h {inbox}" in text
        assert [p.name for p in inbox.iterdir() if p.name != ".lock"] == []
        assert snapshot(loaded) == before
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(inbox)], check=True)
        monkeypatch.undo()


def test_an_import_over_the_quota_is_refused(loaded, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRACKTRACKER_USER_QUOTA_MB", "1")
    before = snapshot(loaded), sorted(loaded.inbox(USER).iterdir())
    code, output = cli("import", USER, str(GOOD))
    text = flat(output)
    assert code == 1, output
    assert f"{GOOD.name}: would bring {USER}'s files on this server to" in text
    assert "over the quota of 1 MB" in text and "TRACKTRACKER_USER_QUOTA_MB" in text
    assert "Nothing was imported" in text
    assert (snapshot(loaded), sorted(loaded.inbox(USER).iterdir())) == before


def test_an_unreachable_database_before_the_import_is_named(loaded, monkeypatch) -> None:
    from tracktracker_assets.services.state import free_port

    monkeypatch.setenv("TRACKTRACKER_DATABASE_URL", f"postgresql://tt:secret@127.0.0.1:{free_port()}/tt")
    code, output = cli("import", USER, str(GOOD))
    text = flat(output)
    assert code == 1, output
    assert "the database server (PostgreSQL) went away before the import; nothing was imported" in text
    assert "TRACKTRACKER_DATABASE_URL" in text and "secret" not in text
    assert not any(p.name.startswith(GOOD.stem) for p in loaded.inbox(USER).iterdir())


@pytest.mark.timeout(180, func_only=True)
def test_postgres_killed_during_an_import_loads_nothing_and_a_rerun_completes(loaded, tmp_path) -> None:
    """PostgreSQL is stopped the way a crash stops it (immediate shutdown: every backend killed, WAL
    recovery at the next start) while the COPY of a file streams, and comes back a moment later (as a
    service manager restarts it). The CLI names the service and what to do; the file stays in the
    inbox (it is not the file's fault); nothing of it is in bronze, and the same command again loads
    it whole. (Left down for good, the CLI says the same after Dagster's own connection retries, about
    30 s: not waited for here.)"""
    import signal
    import threading

    from tests.conftest import TEST_POSTGRES_CONFIG
    from tracktracker_assets.orchestration import progress
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.services.local import start_storage
    from tracktracker_assets.services.postgres import EmbeddedPostgres
    from tracktracker_assets.services.processes import pid_alive

    export = write(
        tmp_path, "Streaming_History_Audio_2012.json", GOOD.read_bytes().replace(b'"2024-', b'"2012-')
    )
    before = snapshot(loaded)
    postgres = EmbeddedPostgres(loaded)
    killed: list[int] = []
    restarted: list[BaseException | None] = []

    def start_again() -> None:
        try:
            start_storage(loaded, postgres_config=TEST_POSTGRES_CONFIG)
            restarted.append(None)
        except BaseException as exc:
            restarted.append(exc)

    restart = threading.Thread(target=start_again)

    def kill_postgres(event: progress.Event) -> None:
        if event.stage == "load" and not killed:
            pid = postgres.running_pid()
            assert pid is not None
            killed.append(pid)
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown, as after a crash
            deadline = time.monotonic() + 30
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            restart.start()

    try:
        with progress.listening(kill_postgres):
            code, output = cli("import", USER, str(export))
    finally:
        if killed:
            restart.join()
        if restarted != [None]:
            start_storage(loaded, postgres_config=TEST_POSTGRES_CONFIG)
    text = flat(output)
    assert killed and restarted == [None] and code == 1, (restarted, output)
    assert "PostgreSQL" in text and "`tracktracker up`" in text and "import again" in text, output
    assert "Traceback" not in output
    waiting = [p for p in loaded.inbox(USER).iterdir() if p.name.startswith("Streaming_History_Audio_2012")]
    assert len(waiting) == 1  # kept for the re-run, not rejected
    assert not list((loaded.rejected_root / USER).glob("*Audio_2012*"))
    assert snapshot(loaded) == before  # nothing half-loaded

    # with PostgreSQL back in time, Dagster recorded the run's failure itself: no run left "started"
    from dagster import DagsterRunStatus, RunsFilter

    started = RunsFilter(job_name="import_exports", statuses=[DagsterRunStatus.STARTED])
    assert get_instance(loaded).get_runs(started) == []

    records = len(json.loads(export.read_bytes()))
    code, output = cli("import", USER, str(export))
    assert code == 0, output
    after = snapshot(loaded)
    assert after[0] == before[0] + records and after[2] == before[2] + 1
    assert [p for p in loaded.inbox(USER).iterdir() if not p.name.startswith(".")] == []


def test_rejected_files_beyond_what_is_kept_are_pruned_after_a_load_run(
    loaded, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TRACKTRACKER_KEEP_FILES", "2")
    bad = [write(tmp_path, f"bad_{i}.json", "not json") for i in range(3)]
    code, output = cli("import", USER, *map(str, bad))
    assert code == 1 and all(p.name in output for p in bad), output
    folder = loaded.rejected_root / USER
    kept = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".error.txt"))
    assert len(kept) == 2 and len(list(folder.glob("*.error.txt"))) == 2, kept
