"""TRACKTRACKER_HOME is private: `up` takes group and other permissions off what was left readable, the
CLI creates everything with umask 077, and PostgreSQL's own user (when TrackTracker runs as root) may
only pass through the home to its data directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tracktracker_assets.services.home import PRIVATE_UMASK, lock_down, tighten
from tracktracker_assets.settings import Settings


def _settings(home: Path) -> Settings:
    saved = os.environ.get("TRACKTRACKER_HOME")
    os.environ["TRACKTRACKER_HOME"] = str(home)
    try:
        return Settings.from_env()
    finally:
        os.environ["TRACKTRACKER_HOME"] = saved or ""


def test_tighten_makes_every_file_private_and_leaves_postgres_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    archive = settings.archive_root / "alice"
    archive.mkdir(parents=True)
    export = archive / "20261201T000000Z-endsong_0.json"
    export.write_text("[]")
    export.chmod(0o644)
    archive.chmod(0o755)
    settings.pgdata.mkdir()
    (settings.pgdata / "PG_VERSION").write_text("18")
    (settings.pgdata / "PG_VERSION").chmod(0o640)  # PostgreSQL's own business
    link = archive / "latest"
    link.symlink_to(export)
    changed = tighten(settings)
    assert set(changed) == {export, archive, settings.archive_root}
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.stat().st_mode) == 0o700
    assert stat.S_IMODE((settings.pgdata / "PG_VERSION").stat().st_mode) == 0o640
    assert tighten(settings) == []


def test_lock_down_lets_a_service_group_pass_through_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    lock_down(settings)
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    gid = os.getgid()
    lock_down(settings, traverse_gid=gid)
    for folder in (settings.home, settings.log_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o710 and folder.stat().st_gid == gid


def test_the_cli_creates_private_files(tmp_path: Path) -> None:
    """Whatever the shell's umask, a file the CLI's process creates is 0600 (services inherit it)."""
    probe = tmp_path / "probe"
    code = (
        "import os, sys; from tracktracker_assets.cli import main as m; "
        "m.cli = lambda **_: open(sys.argv[1], 'w').close(); m.main()"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(probe)], check=True, cwd=REPO, preexec_fn=lambda: os.umask(0o022)
    )
    assert stat.S_IMODE(probe.stat().st_mode) == 0o666 & ~PRIVATE_UMASK
