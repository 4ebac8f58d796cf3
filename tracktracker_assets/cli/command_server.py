"""`python -m tracktracker_assets.cli.command_server`: the command process `up` starts
(services/command_process.py). It loads what every import would load, then runs each command handed
to it in a fork: `tracktracker` (the CLI, as typed) or `dbt` (a refresh's, from tracktracker-dbt)."""

from __future__ import annotations

import importlib
import logging
import warnings

from tracktracker_assets.services import command_process


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
