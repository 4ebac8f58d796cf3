"""dbt kept parsed in the command process (services/command_process.py).

A refresh's dbt, run in a fork of the command process, would read the parsed project again at each
run (dbt's partial-parsing state, each project file hashed, then manifest.json written: ~0.6 s). The
command process parses once while it warms up, and a fork hands that manifest to dbt's own runner
(`dbtRunner(manifest=...)`), which then builds without parsing. Its Jinja is compiled then too
(transform/compiled_templates.py), so that no fork compiles it again.

The manifest stands for exactly what it was parsed from: the project's files (the command process
declines every caller once one changed: its code stamp covers the dbt project), dbt's settings in the
environment (the connection, the profile, the variables the project reads with env_var()) and the
command line. A fork uses it only when all of these are the same for its command; otherwise dbt runs
as typed and parses itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.compiled_templates import compile_project
from tracktracker_assets.transform.project import DBT_PROJECT_DIR, OUTPUT_OPTIONS, dbt_env, ensure_manifest

# dbt's variables that change where a run writes or how it logs, never what the project parses to
_PER_RUN = {
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
    "DBT_LOG_FORMAT",
    "DBT_SEND_ANONYMOUS_USAGE_STATS",
    "DBT_INDIRECT_SELECTION",
    "DBT_PROJECT_DIR",  # compared as the project's folder instead
}
# the commands a refresh runs, and the options that only select what they build or change what
# they log and write besides the warehouse
_COMMANDS = {"build", "run", "test"}
_OPTIONS = {"--select", "-s", "--exclude", "--full-refresh", *OUTPUT_OPTIONS}


@dataclass(frozen=True)
class Parsed:
    manifest: Any  # dbt.contracts.graph.manifest.Manifest
    environment: dict[str, str]  # what the parse read from the environment


_parsed: Parsed | None = None


def _dbt_settings(environ: Mapping[str, str], names: set[str]) -> dict[str, str]:
    """The variables a parse reads: dbt's own, the profile's (TT_DBT_*), and names (env_var())."""
    chosen = {k for k in environ if k.startswith(("DBT_", "TT_DBT_")) and k not in _PER_RUN} | names
    return {k: environ[k] for k in sorted(chosen) if k in environ}


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def parse(settings: Settings) -> str:
    """Parse the project as a refresh of these settings would see it, and keep it for the forks.
    Says what it did (for the command process's log); a failure leaves dbt to parse at each run."""
    global _parsed
    from dbt.cli.main import dbtRunner

    try:
        ensure_manifest(settings)  # the parse a refresh would start from: partial parsing makes this quick
        target = settings.run_dir / "dbt-parse"
        target.mkdir(parents=True, exist_ok=True)
        kept = settings.dbt_target_dir / "partial_parse.msgpack"
        if kept.exists():
            shutil.copy2(kept, target / kept.name)
        env = {**dbt_env(settings), "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target)}
        with _environment(env), contextlib.chdir(DBT_PROJECT_DIR):
            result = dbtRunner().invoke(["parse", "--quiet", "--no-write-json"])
            if not result.success or result.result is None:
                return f"dbt parses at each run (the project did not parse here: {result.exception})"
            manifest = result.result
            _parsed = Parsed(manifest, _dbt_settings(os.environ, set(manifest.env_vars)))
    except Exception as exc:  # the forks' dbt then parses by itself, as without this process
        return f"dbt parses at each run (parsing here failed: {type(exc).__name__}: {exc})"
    compiled = compile_project(manifest)
    return f"dbt project parsed ({len(manifest.nodes)} nodes, {compiled} sources compiled)"


def usable(argv: list[str], environ: Mapping[str, str], cwd: str) -> Parsed | None:
    """The parse kept in this process, if it is the one dbt would make for this command line."""
    parsed = _parsed
    if parsed is None or not argv or argv[0] not in _COMMANDS:
        return None
    if any(arg.startswith("-") and arg.split("=")[0] not in _OPTIONS for arg in argv[1:]):
        return None
    project = environ.get("DBT_PROJECT_DIR") or cwd
    if os.path.realpath(project) != os.path.realpath(DBT_PROJECT_DIR):
        return None
    if _dbt_settings(environ, set(parsed.manifest.env_vars)) != parsed.environment:
        return None
    return parsed


def main() -> None:
    """dbt as the command line asks, given the kept parse when it applies; dbt's exit status."""
    from tracktracker_assets.transform.behavior_flags import name_flag_sources_without_reading_code
    from tracktracker_assets.transform.kept_connections import keep_connections_between_nodes
    from tracktracker_assets.transform.node_order import start_marked_nodes_early
    from tracktracker_assets.transform.type_testers import reuse_type_testers
    from tracktracker_assets.transform.unlogged_events import skip_unlogged_events

    skip_unlogged_events()
    name_flag_sources_without_reading_code()
    reuse_type_testers()
    keep_connections_between_nodes()
    start_marked_nodes_early()
    parsed = usable(sys.argv[1:], os.environ, os.getcwd())
    if parsed is None:
        from dbt.cli.main import cli

        cli()
        return
    from dbt.cli.main import dbtRunner

    result = dbtRunner(manifest=parsed.manifest).invoke(sys.argv[1:])
    if isinstance(result.exception, KeyboardInterrupt):
        raise result.exception
    # dbt's own statuses: 0 done, 1 a model or test failed, 2 dbt itself failed
    sys.exit(0 if result.success else 1 if result.exception is None else 2)
