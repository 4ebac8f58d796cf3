"""The layout is the architecture: rules of the package that no test of behaviour would notice breaking.

- every module imports on its own, and no two modules import each other at import time;
- the product never imports the tests (where the fakes live), and the wheel carries no fake;
- Dagster's private API (`dagster._…`) is used only in orchestration/;
- every advisory lock is taken through warehouse/locks.py;
- the export formats know nothing of Dagster (they are used by the upload page and the loader alike);
- `definitions.py` only merges the rooms' definitions; no job or schedule lives at the package root.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tracktracker_assets

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tracktracker_assets"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, *, import_time_only: bool, prefix: str = "tracktracker_assets") -> set[str]:
    """Modules under `prefix` that `path` imports (import_time_only: not in functions, not for type
    checking)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if import_time_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.startswith(prefix)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_that_imports_it_back() -> None:
    modules = _modules()
    graph = {
        name: {m for m in _imports(path, import_time_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    assert _cycles(graph) == []


def test_the_rooms_do_not_reach_back_into_each_other_even_lazily() -> None:
    """Imports inside functions too: the application layer and the rooms form no loop. (The one
    loop left is the local services' self-healing state, which asks the running servers for their
    ports when its file is damaged, while every server records its port in that state.)"""
    modules = _modules()
    graph = {
        name: {m for m in _imports(path, import_time_only=False) if m in modules and m != name}
        for name, path in modules.items()
    }
    services_state = {
        "tracktracker_assets.settings",
        *(m for m in modules if m.startswith("tracktracker_assets.services.")),
    }
    assert [c for c in _cycles(graph) if not set(c) <= services_state] == []


def test_every_module_imports_on_its_own() -> None:
    """In a fresh interpreter each (an import that only works after another module was imported
    first is a hidden cycle or side effect)."""
    names = [m.name for m in pkgutil.walk_packages(tracktracker_assets.__path__, "tracktracker_assets.")]
    assert len(names) > 60
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""


def test_importing_the_code_location_does_no_work() -> None:
    """No dbt parse, no settings read, no Definitions built at import: Dagster builds them on demand."""
    script = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import tracktracker_assets.definitions as d\n"
        "import tracktracker_assets.transform.project as p\n"
        "assert p._parsed_project.cache_info().currsize == 0\n"
        "assert d.load.cache_info().currsize == 0\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TRACKTRACKER_HOME": "/nonexistent/tracktracker-home"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not Path("/nonexistent/tracktracker-home").exists()


def test_down_and_status_load_neither_dagster_nor_dbt(tmp_path: Path) -> None:
    """Stopping or looking at the services needs their PID files, not the libraries the services run:
    importing Dagster and dbt took 2 s of every `down`."""
    script = (
        "import sys\n"
        "from rich.console import Console\n"
        "from tracktracker_assets.cli import lifecycle\n"
        "from tracktracker_assets.settings import get_settings\n"
        "settings = get_settings()\n"
        "lifecycle.down(settings, Console(quiet=True))\n"
        "lifecycle.service_states(settings)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'dagster_dbt', 'dbt'}))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TRACKTRACKER_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_the_product_never_imports_the_tests() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, path in _modules().items()
        for imported in _imports_any(path)
        if imported == "tests" or imported.startswith("tests.")
    ]
    assert offenders == []


def _imports_any(path: Path) -> set[str]:
    return _imports(path, import_time_only=False, prefix="")


def test_dagster_private_api_only_in_orchestration() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {imported}"
        for name, path in _modules().items()
        if not name.startswith("tracktracker_assets.orchestration")
        for imported in _imports_any(path)
        if imported.startswith("dagster._") or imported.startswith("dagster_dbt._")
    ]
    assert offenders == []


def test_every_advisory_lock_is_taken_in_one_place() -> None:
    result = subprocess.run(
        ["git", "grep", "-l", "pg_advisory", "--", "tracktracker_assets"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.stdout.split() == ["tracktracker_assets/warehouse/locks.py"]


EXPORT_FORMAT_MODULES = (
    "errors",
    "formats",
    "jsonarray",
    "sources",
    "loader",
    "inbox",
    "retention",
    "intake",
)


@pytest.mark.parametrize("module", EXPORT_FORMAT_MODULES)
def test_export_formats_know_nothing_of_dagster(module: str) -> None:
    path = PACKAGE / "exports" / f"{module}.py"
    dagster = [m for m in _imports_any(path) if m.split(".")[0] in ("dagster", "dagster_dbt")]
    assert dagster == []
    inside = [m for m in _imports_any(path) if m.startswith("tracktracker_assets.orchestration")]
    assert inside == []


def test_definitions_only_merge_the_rooms() -> None:
    root_modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert root_modules == {"__init__", "definitions", "settings", "demo"}
    rooms = {p.parent.name for p in PACKAGE.glob("*/definitions.py")}
    assert rooms == {
        "exports",
        "spotify",
        "users",
        "friends",
        "transform",
        "dashboards",
        "lastfm",
        "listenbrainz",
        "musicbrainz",
        "takeout",
    }
    merged = {
        m.rsplit(".", 1)[0]
        for m in _imports(PACKAGE / "definitions.py", import_time_only=True)
        if m.endswith(".definitions")
    }
    assert merged == {f"tracktracker_assets.{room}" for room in rooms}


def test_the_wheel_carries_no_fake(tmp_path: Path) -> None:
    uv = REPO / ".tools" / "bin" / "uv"  # the setup's own uv (see ./tracktracker)
    result = subprocess.run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("tracktracker*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tracktracker_assets/exports/loader.py" in names
    assert [n for n in names if "fake" in n.lower() or n.startswith("tests/")] == []


def test_modules_are_importable_by_name() -> None:
    for name in ("tracktracker_assets.orchestration.runs", "tracktracker_assets.users.accounts"):
        assert importlib.import_module(name).__doc__
