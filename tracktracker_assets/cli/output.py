"""What the CLI prints: the console, tables, friendly errors, and which library warnings stay quiet."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any

from rich.console import Console
from rich.table import Table

# messages go to stderr (stdout carries results such as `sql` CSV); wide enough when piped or logged
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def quiet_library_warnings() -> None:
    """Libraries' notices about their own APIs (Dagster's beta and superseded APIs, SQLAlchemy 2.0
    deprecations, deprecations in general) are for their developers, not for someone running a
    command; every other warning still shows."""
    # Dagster's own warning classes, from the module that defines them: importing all of dagster
    # here would cost every command, `--help` too, most of a second. SQLAlchemy's deprecation
    # warnings (SADeprecationWarning, RemovedIn20Warning) are DeprecationWarnings.
    from dagster_shared.utils.warnings import BetaWarning, PreviewWarning, SupersessionWarning

    for category in (
        DeprecationWarning,
        PendingDeprecationWarning,
        FutureWarning,
        BetaWarning,
        PreviewWarning,
        SupersessionWarning,
    ):
        warnings.filterwarnings("ignore", category=category)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Known failures print one clear message and exit 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tracktracker_assets.exports.errors import ImportProblem
        from tracktracker_assets.users.registry import RegistryError

        try:
            return func(*args, **kwargs)
        except (RegistryError, ImportProblem, RuntimeError) as exc:
            console.print(f"[bold red]error:[/] {exc}")
            sys.exit(1)

    return wrapper


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
