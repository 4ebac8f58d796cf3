"""The dbt project: its location, its connection environment, and running it outside Dagster."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dagster_dbt import DbtProject

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.child import PARENT_ENV

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for dbt's profiles.yml, derived from the one warehouse URL (when it is known)."""
    try:
        url = urlsplit(settings.database_url)
    except RuntimeError:  # embedded server never started: enough for `dbt parse`
        url = urlsplit("postgresql://tracktracker@127.0.0.1:5432/tracktracker")
    env = {
        "TT_DBT_HOST": url.hostname or "127.0.0.1",
        "TT_DBT_PORT": str(url.port or 5432),
        "TT_DBT_USER": unquote(url.username or "postgres"),
        "TT_DBT_PASSWORD": unquote(url.password or ""),
        "TT_DBT_DBNAME": unquote(url.path.lstrip("/")) or "tracktracker",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(settings.dbt_target_dir),
        "DBT_LOG_PATH": str(settings.dbt_log_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TRACKTRACKER_COUNTED_PLAY_MS": str(settings.counted_play_ms),
        "TRACKTRACKER_DEDUPE_WINDOW_S": str(settings.dedupe_window_s),
        "TRACKTRACKER_GLOBAL_MIN_USERS": str(settings.global_min_users),
        "TRACKTRACKER_SESSION_GAP_MINUTES": str(settings.session_gap_minutes),
        # a backend whose dbt was killed mid-query stops within 2 s instead of finishing the query
        # (holding its locks) before it notices the client is gone
        "PGOPTIONS": "-c client_connection_check_interval=2000",
    }
    return env


# options of a refresh's dbt that change only what it logs and writes besides the warehouse, never
# what it builds or what the project parses to (transform/parsed.py accepts them with a kept parse)
OUTPUT_OPTIONS = ("--log-level-file", "--no-write-json")


def refresh_output_options(settings: Settings) -> list[str]:
    """A refresh's dbt writes its dbt.log at the configured level, and no JSON artifacts: the
    manifest.json it writes again at each build's end (~0.3 s) and run_results.json are read by
    nothing, since Dagster records each node's result as dbt reports it. At `debug`, the log's JSON
    line for every statement and connection costs a small build ~10% of its time."""
    return ["--log-level-file", settings.dbt_log_level, "--no-write-json"]


def export_dbt_env(settings: Settings) -> None:
    """Put dbt's connection variables into this process's environment (dbt subprocesses inherit it),
    and name this process as the one whose death ends them (transform/child.py)."""
    os.environ.update(dbt_env(settings))
    os.environ[PARENT_ENV] = str(os.getpid())


def dbt_executable() -> str:
    """`tracktracker-dbt` (dbt that dies with its parent) where installed, else dbt itself."""
    for name in ("tracktracker-dbt", "dbt"):
        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            return str(candidate)
    return shutil.which("tracktracker-dbt") or shutil.which("dbt") or "dbt"


def run_dbt(
    settings: Settings, args: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a dbt command against the warehouse (used by tests, the benchmark and `prepare`)."""
    env = {**os.environ, **dbt_env(settings), PARENT_ENV: str(os.getpid())}
    result = subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return result


def _newest_source_mtime() -> float:
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        paths.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def _fingerprint(env: dict[str, str]) -> str:
    # dbt reparses everything when the profile or env vars change; so do we, with the same env
    return hashlib.sha256(json.dumps({k: v for k, v in sorted(env.items())}).encode()).hexdigest()


def ensure_manifest(settings: Settings) -> Path:
    """dbt's manifest.json (Dagster builds its assets from it), parsed again when the project or the
    connection changed. Parsing with the very env later builds use keeps partial parsing valid, which
    saves a whole parse (~4 s) per build."""
    import fcntl

    target = settings.dbt_target_dir
    manifest = target / "manifest.json"
    stamp = target / ".tracktracker-parse"
    env = dbt_env(settings)
    fingerprint = _fingerprint(env)
    target.mkdir(parents=True, exist_ok=True)
    # processes starting together (Celery workers, a code server) parse once, one after the other:
    # dbt writes manifest.json in place, and a reader between its writes would read half of it
    with open(target / ".tracktracker-parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        newest_source = _newest_source_mtime()
        fresh = (
            manifest.exists()
            and manifest.stat().st_mtime >= newest_source
            and stamp.exists()
            and stamp.read_text() == fingerprint
        )
        if not fresh:
            if not _restore_parse(target, fingerprint, newest_source):
                run_dbt(settings, ["parse", "--quiet"])
                _keep_parse(target, fingerprint)
            stamp.write_text(fingerprint)
    return manifest


# What a parse leaves that the next dbt run reads: the manifest, and dbt's partial-parsing state
# (valid only for the connection it was made with: another warehouse means a whole new parse).
PARSE_FILES = ("manifest.json", "partial_parse.msgpack")
# warehouses whose parse is kept: one checkout serving a few (its own, a benchmark's, tests') switches
# between them without parsing again each time (a whole parse takes ~4 s)
KEPT_PARSES = 8


def _kept(target: Path, fingerprint: str) -> Path:
    return target / ".parses" / fingerprint[:32]


def _copy_parse(source: Path, destination: Path) -> None:
    """The parse files, each replaced whole (a dbt starting meanwhile never reads half of one), with
    their parse's time, which the freshness tests read."""
    for name in PARSE_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, destination / f".{name}.new")
            os.replace(destination / f".{name}.new", destination / name)


def _keep_parse(target: Path, fingerprint: str) -> None:
    kept = _kept(target, fingerprint)
    kept.mkdir(parents=True, exist_ok=True)
    _copy_parse(target, kept)
    older = sorted(kept.parent.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)[KEPT_PARSES:]
    for path in older:
        shutil.rmtree(path, ignore_errors=True)


def _restore_parse(target: Path, fingerprint: str, newest_source: float) -> bool:
    """Put back the parse kept for this connection, when the project has not changed since it."""
    kept = _kept(target, fingerprint)
    if not all((kept / name).exists() for name in PARSE_FILES):
        return False
    if (kept / "manifest.json").stat().st_mtime < newest_source:
        return False
    _copy_parse(kept, target)
    kept.touch()  # most recently used: pruned last
    return True


@functools.cache
def _parsed_project(fingerprint: str, target: Path) -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=target)


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project with a current manifest, parsed at most once per process and settings."""
    ensure_manifest(settings)
    return _parsed_project(_fingerprint(dbt_env(settings)), settings.dbt_target_dir)
