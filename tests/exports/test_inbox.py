"""The inbox takes only complete files, refuses what is not a file without blocking, cleans up after
interrupted copies, and keeps each listener within a quota and a retention (loader and upload logic)."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA
from tracktracker_assets.exports.inbox import (
    INCOMING_PREFIX,
    drop_into_inbox,
    inbox_report,
    pending_files,
    process_inbox,
)
from tracktracker_assets.exports.retention import prune_kept_files, usage
from tracktracker_assets.exports.uploads import accept_upload, staging_dir

GOOD = REAL_DATA / "spotify-extended" / "mica-92--Streaming_History_Audio_2024_4.json"


@pytest.fixture
def quick(settings):
    """The session's settings with a 1 s settle time."""
    return dataclasses.replace(settings, inbox_settle_s=1.0)


def count(conn, user_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute("select count(*) from bronze.spotify_extended_history where user_id = %s", (user_id,))
        return cur.fetchone()[0]


@contextmanager
def tiny_disk(path: Path, size: str = "256k") -> Iterator[None]:
    """A tmpfs of `size` mounted at `path`: a real full disk (ENOSPC) for what writes there."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?); test_import_bad_inputs injects ENOSPC instead")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_file_copied_in_by_hand_is_taken_only_once_complete(quick, conn) -> None:
    """The issue's case: a slow copy into the inbox. While it is being written, nothing takes it;
    once unchanged for the settle time, it loads whole (it used to be rejected as truncated)."""
    user = "slow-copy"
    inbox = quick.inbox(user)
    inbox.mkdir(parents=True, exist_ok=True)
    data = GOOD.read_bytes()
    target = inbox / "Streaming_History_Audio_2024_4.json"
    written = threading.Event()

    def copy_slowly() -> None:
        with open(target, "wb") as out:
            for i in range(0, len(data), len(data) // 6 + 1):
                out.write(data[i : i + len(data) // 6 + 1])
                out.flush()
                time.sleep(0.3)
        written.set()

    writer = threading.Thread(target=copy_slowly)
    writer.start()
    time.sleep(0.2)
    assert pending_files(quick, user) == []
    assert [w.state for w in inbox_report(quick, user)] == ["settling"]
    assert process_inbox(conn, quick, user) == []  # the loader leaves it alone
    assert target.exists() and count(conn, user) == 0
    writer.join()
    assert written.is_set() and pending_files(quick, user) == []  # just finished: still settling
    time.sleep(1.1)
    assert pending_files(quick, user) == [target]
    (result,) = process_inbox(conn, quick, user)
    assert result.ok and result.inserted == count(conn, user) > 0
    assert not target.exists()


def test_our_own_copies_are_taken_at_once_and_failed_copies_leave_nothing(quick, tmp_path: Path) -> None:
    user = "own-copies"
    dropped = drop_into_inbox(quick, user, GOOD)
    assert pending_files(quick, user) == [dropped]  # written whole, then renamed: no settling
    inbox = quick.inbox(user)
    with tiny_disk(inbox):
        with pytest.raises(Exception, match="is full") as info:
            drop_into_inbox(quick, user, GOOD)
        assert "No space left on device" in str(info.value) and "nothing of the file was kept" in str(
            info.value
        )
        assert list(inbox.iterdir()) == []  # no .incoming-* partial left behind
    dropped.unlink()


def test_stale_partial_copies_are_removed_and_fresh_ones_kept(quick, conn) -> None:
    user = "partials"
    inbox = quick.inbox(user)
    inbox.mkdir(parents=True, exist_ok=True)
    stale, fresh = inbox / f"{INCOMING_PREFIX}stale", inbox / f"{INCOMING_PREFIX}fresh"
    stale.write_bytes(b'[{"ts": "2024-01-0')
    fresh.write_bytes(b"[")
    staged = staging_dir(quick, user) / "abandoned-upload"
    staged.mkdir(parents=True)
    (staged / "my_spotify_data.zip").write_bytes(b"PK\x03\x04")
    hours_ago = time.time() - 2 * quick.partial_max_age_s
    for path in (stale, staged / "my_spotify_data.zip", staged):
        os.utime(path, (hours_ago, hours_ago))
    states = {w.name: w.state for w in inbox_report(quick, user)}
    assert states == {stale.name: "interrupted copy", fresh.name: "copying"}
    assert process_inbox(conn, quick, user) == []
    assert not stale.exists() and fresh.exists() and not staged.exists()
    fresh.unlink()


@pytest.mark.timeout(60)
def test_pipes_devices_and_sockets_in_the_inbox_are_refused_without_blocking(quick, conn) -> None:
    user = "specials"
    inbox = quick.inbox(user)
    inbox.mkdir(parents=True, exist_ok=True)
    os.mkfifo(inbox / "endsong_0.json")  # nobody ever writes to it: opening it would block forever
    (inbox / "zero.json").symlink_to("/dev/zero")  # a device: reading it would never end
    (inbox / "dangling.json").symlink_to(inbox / "gone")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(inbox / "sock.json"))
    past = time.time() - 5
    for name in ("endsong_0.json", "sock.json", "dangling.json"):
        os.utime(inbox / name, (past, past), follow_symlinks=False)
    try:
        assert {w.name: w.state for w in inbox_report(quick, user)} == {
            "endsong_0.json": "not a file",
            "zero.json": "not a file",
            "dangling.json": "not a file",
            "sock.json": "not a file",
        }
        results = {r.path.name: r for r in process_inbox(conn, quick, user)}
    finally:
        server.close()
    assert "is a FIFO (named pipe), not a regular file" in results["endsong_0.json"].error
    assert "is a character device (through a symbolic link)" in results["zero.json"].error
    assert "symbolic link to a file that does not exist" in results["dangling.json"].error
    assert "is a socket" in results["sock.json"].error
    assert list(inbox.glob("*.json")) == []  # moved to rejected/, each with its reason
    notes = sorted(p.name for p in (quick.rejected_root / user).glob("*.error.txt"))
    assert len(notes) == 4 and count(conn, user) == 0


def test_an_upload_is_renamed_into_the_inbox_whole_and_respects_the_quota(quick) -> None:
    user = "uploader"
    data = GOOD.read_bytes()
    ok = accept_upload(quick, user, GOOD.name, io.BytesIO(data))
    assert ok.accepted, ok.message
    (landed,) = pending_files(quick, user)  # complete on arrival: no settling for our own copies
    assert landed.read_bytes() == data
    assert not any(staging_dir(quick, user).iterdir())

    # over the quota: refused while it streams, nothing kept
    tight = dataclasses.replace(quick, user_quota_bytes=len(data) + len(data) // 2)
    refused = accept_upload(tight, user, "second.json", io.BytesIO(data))
    assert not refused.accepted and "over the quota" in refused.message
    assert "TRACKTRACKER_USER_QUOTA_MB" in refused.message and "your files" in refused.message
    assert pending_files(tight, user) == [landed] and not any(staging_dir(quick, user).iterdir())

    # archived files are already in bronze: the oldest make room for a new upload
    archive = quick.archive_root / user
    archive.mkdir(parents=True)
    landed.rename(archive / f"20240101T000000Z-{landed.name}")
    accepted = accept_upload(tight, user, "third.json", io.BytesIO(data))
    assert accepted.accepted, accepted.message
    assert list(archive.iterdir()) == [] and usage(quick, user) == len(data)
    shutil.rmtree(quick.inbox(user))  # not left waiting in a home the inbox sensor's tests share


def test_an_upload_onto_a_full_disk_keeps_nothing(quick) -> None:
    user = "full-disk-upload"
    stage = staging_dir(quick, user)
    with tiny_disk(stage):
        outcome = accept_upload(quick, user, GOOD.name, io.BytesIO(GOOD.read_bytes()))
        assert not outcome.accepted and "the server's disk is full" in outcome.message
        assert "Nothing was kept" in outcome.message
        assert list(stage.iterdir()) == []
    assert pending_files(quick, user) == []


def test_archived_and_rejected_files_are_pruned_newest_kept(quick) -> None:
    user = "pruned"
    now = time.time()
    for root in (quick.archive_root, quick.rejected_root):
        folder = root / user
        folder.mkdir(parents=True)
        for day in range(1, 7):  # filed 1..6 days ago, and one 40 days ago
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - day * 86400))
            (folder / f"{stamp}-file{day}.json").write_text("[]")
            if root == quick.rejected_root:
                (folder / f"{stamp}-file{day}.json.error.txt").write_text("why")
        old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - 40 * 86400))
        (folder / f"{old}-ancient.json").write_text("[]")
    by_age = dataclasses.replace(quick, keep_files=10, keep_days=30)
    assert {p.name.split("-", 1)[1] for p in prune_kept_files(by_age, user)} == {"ancient.json"}
    removed = prune_kept_files(dataclasses.replace(by_age, keep_files=3), user)  # at most 3 per folder
    assert {p.name.split("-", 1)[1] for p in removed} == {"file4.json", "file5.json", "file6.json"}
    for root in (quick.archive_root, quick.rejected_root):
        kept = sorted(p.name.split("-", 1)[1] for p in (root / user).iterdir())
        expected = ["file1.json", "file2.json", "file3.json"]
        if root == quick.rejected_root:  # each with its note, and no orphaned notes
            expected = sorted(expected + [f"{n}.error.txt" for n in expected])
        assert kept == expected


def test_up_tidies_every_listener(quick) -> None:
    """`up` runs this: stale partial copies and files past retention go, for everyone at once."""
    from tracktracker_assets.exports.retention import tidy_everyone

    tidy_everyone(quick)  # what other tests of this session's home left is not counted below
    ancient = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 400 * 86400))
    for user in ("tidy-a", "tidy-b"):
        (quick.rejected_root / user).mkdir(parents=True)
        (quick.rejected_root / user / f"{ancient}-old.json").write_text("x")
        (quick.rejected_root / user / f"{ancient}-old.json.error.txt").write_text("why")
        quick.inbox(user).mkdir(parents=True)
        partial = quick.inbox(user) / f"{INCOMING_PREFIX}x"
        partial.write_text("[")
        os.utime(partial, (0, 0))
    assert tidy_everyone(quick) == 4
    for user in ("tidy-a", "tidy-b"):
        assert list((quick.rejected_root / user).iterdir()) == list(quick.inbox(user).iterdir()) == []


def test_a_file_that_changes_while_it_is_read_stays_for_the_next_run(quick, conn) -> None:
    """A writer still at work (a copy that stalled past the settle time, then resumed): the file is
    not filed away under it, and the next run takes what it became."""
    user = "still-writing"
    dropped = drop_into_inbox(quick, user, GOOD)
    touched: list[str] = []

    def progress(name: str):
        def update(records: int, bytes_read: int) -> None:
            if not touched:
                touched.append(name)
                with open(dropped, "ab") as out:
                    out.write(b"\n")

        return update

    (first,) = process_inbox(conn, quick, user, progress=progress)
    assert touched and first.left_in_inbox and "changed while it was read" in first.left_in_inbox
    assert dropped.exists() and first.moved_to is None
    past = time.time() - 5
    os.utime(dropped, (past, past))
    (second,) = process_inbox(conn, quick, user)
    assert second.ok and second.left_in_inbox is None and not dropped.exists()
    assert count(conn, user) == first.inserted + second.inserted > 0
