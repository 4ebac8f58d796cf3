"""The secrets sweep finds what it is there to find: a planted secret in a file of the home, in a binary
file and deep in a large one, and nothing under secrets/ or behind a symbolic link."""

from __future__ import annotations

import os
from pathlib import Path

from tests.secrets_sweep import _files_holding

SECRET = "sweep-needle-9f2c4e1a7b3d5f60"
OTHER = "another-needle-0a1b2c3d4e5f6789"


def test_the_sweep_finds_every_planted_secret_and_only_those(tmp_path: Path) -> None:
    home = tmp_path / "home"
    secrets = home / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "token.key").write_text(SECRET)  # where secrets belong: never a finding
    (home / "logs").mkdir()
    (home / "logs" / "dbt.log").write_text(f"connecting with password={SECRET}\n")
    (home / "logs" / "quiet.log").write_text("nothing to see\n")
    wal = home / "postgres" / "pg_wal"
    wal.mkdir(parents=True)
    # a binary file, the needle 40 MB in: a WAL segment that once carried a row holding it
    with open(wal / "000000010000000000000001", "wb") as segment:
        segment.write(os.urandom(1 << 20) + b"\0" * (40 << 20) + OTHER.encode() + b"\xff\0")
    (wal / "000000010000000000000002").write_bytes(b"\0" * (1 << 20))
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    (home / "logs" / "link.txt").symlink_to(outside)  # not the home's own file
    (home / "elsewhere").symlink_to(tmp_path)

    found = _files_holding(home, secrets, [SECRET, OTHER])
    assert found == [str(home / "logs" / "dbt.log"), str(wal / "000000010000000000000001")]
    assert _files_holding(home, secrets, ["not-in-any-file-0123456789"]) == []
