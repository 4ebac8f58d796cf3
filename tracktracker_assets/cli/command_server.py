"""`python -m tracktracker_assets.cli.command_server`: the command process `up` starts
(services/command_process.py). It loads what every import would load, then runs each command handed
to it in a fork: `tracktracker` (the CLI, as typed) or `dbt` (a refresh's, from tracktracker-dbt)."""

from __future__ import annotations

import importlib
import logging
import warnings

from tracktracker_assets.services import command_process

# What a fork would otherwise import on the way (~0.1 s of each import command: ~55 ms in the command's
# fork, ~40 ms in its refresh's dbt fork), found by listing the modules a fork added to sys.modules.
# Left out, as they read the caller's environment when imported (a caller's may differ): the CLI's own
# modules and rich's (the console reads the terminal, see warm_up; the table of character widths
# follows UNICODE_VERSION), and dbt's agate helper (its babel takes the local time zone).
IMPORTED_LATER = (
    # running a job in process, the instance's parts that are built when it is
    "dagster._core.execution.execute_in_process",
    "dagster._core.execution.plan.active",
    "dagster._core.definitions.repository_definition.repository_data_builder",
    "dagster._core.instance.factory",
    "dagster._core.instance.runs.run_domain",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.legacy_storage",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.root",
    "dagster._core.system_config.composite_descent",
    "upath.implementations.local",
    # the registry's login, a refresh's dashboard step
    "pymongo.synchronous.auth",
    "tracktracker_assets.dashboards.cache",
    "tracktracker_assets.dashboards.config",
    "tracktracker_assets.dashboards.service",
    "tracktracker_assets.dashboards.warm",
    "tracktracker_assets.users.accounts",
    # a refresh's dbt: its build task and what that imports when it runs
    "dbt.task.build",
    "dbt.graph.thread_pool",
    "dbt.parser.sql",
    "multiprocessing.dummy",
    "tracktracker_assets.transform.behavior_flags",
    "tracktracker_assets.transform.kept_connections",
    "tracktracker_assets.transform.node_order",
    "tracktracker_assets.transform.type_testers",
    "tracktracker_assets.transform.unlogged_events",
)


def warm_up() -> str:
    """What an import would import and build (a fork inherits it all), and dbt's parsed project; says
    what it kept. Not the CLI's own modules: its console decides on colours and width from the terminal
    it is made on, which must be the caller's."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the libraries' notices about their own APIs, as the CLI does
        for module in ("pipeline", "runs"):
            importlib.import_module(f"tracktracker_assets.orchestration.{module}")
        for module in ("dbt.cli.main", "dbt.adapters.postgres"):  # a refresh's dbt, run by a fork
            importlib.import_module(module)
        for module in _instance_modules():  # each command builds the Dagster instance: its storage
            importlib.import_module(module)
        for module in IMPORTED_LATER:
            importlib.import_module(module)
        from tracktracker_assets.warehouse.schema import all_migrations

        all_migrations()  # each command checks them: this imports every service room's bronze tables
        from tracktracker_assets.definitions import load

        load()
    from tracktracker_assets.settings import get_settings
    from tracktracker_assets.transform import parsed
    from tracktracker_assets.transform.manifest import read_manifest

    settings = get_settings()
    warmed = parsed.parse(settings)
    manifest = settings.dbt_target_dir / "manifest.json"
    if manifest.exists():
        read_manifest(manifest)  # a refresh's checks read it: each fork inherits this parse
    # as a command that runs itself has it: a library that calls logging.basicConfig() when imported
    # (snowplow_tracker, through dbt) would put Dagster's INFO lines on every caller's terminal
    root.handlers[:] = handlers
    return warmed


def _instance_modules() -> list[str]:
    """The modules of the Dagster instance's classes (dagster.yaml), and of the instance itself."""
    import yaml

    from tracktracker_assets.orchestration.instance import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    named = [part["module"] for part in config.values() if isinstance(part, dict) and "module" in part]
    named = [module.replace("dagster.core.", "dagster._core.", 1) for module in named]  # Dagster's alias
    return ["tracktracker_assets.orchestration.instance", *named]


def run_tracktracker() -> None:
    from tracktracker_assets.cli.main import main

    main()


def run_dbt() -> None:
    from tracktracker_assets.transform import parsed

    parsed.main()


def main() -> None:
    from tracktracker_assets.services.home import private_umask
    from tracktracker_assets.settings import get_settings

    private_umask()
    command_process.serve(get_settings(), warm_up, {"tracktracker": run_tracktracker, "dbt": run_dbt})


if __name__ == "__main__":
    main()
