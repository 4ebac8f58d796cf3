"""The README's main command, run as a new user would: a subprocess in a scratch TRACKTRACKER_HOME.
(The README's test command is what CI runs: .ci/run calls it.)"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def processes_of(home: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(home) in cmdline or f"TRACKTRACKER_HOME={home}".encode() in environ:
            found.append(f"{proc.name} {cmdline[:100]}")
    return found


def test_readme_lists_exactly_the_two_commands_ci_runs() -> None:
    up, test = readme_commands()
    assert up == "./tracktracker up" and test == "./tracktracker test"
    assert test in (REPO / ".ci" / "run").read_text()


def test_main_command_sets_up_loads_the_demo_and_summarises() -> None:
    home = Path(tempfile.mkdtemp(prefix="tt-readme-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKTRACKER_", "DAGSTER_"))}
    env["TRACKTRACKER_HOME"] = str(home)
    up = readme_commands()[0]
    try:
        result = subprocess.run(up.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        for user in ("demo-ana", "demo-kenji", "demo-sam"):
            row = re.search(rf"│ {user}\s+│.*?│.*?│\s+(\d+) │\s+([\d.]+) │", output)
            assert row and int(row.group(1)) > 10_000 and float(row.group(2)) > 500, output[-3000:]
        assert "Silver and gold refreshed" in output and "./tracktracker sql" in output
        again = subprocess.run(up.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "Loading the demo" not in again.stderr  # second start reuses data
        status = subprocess.run(
            ["./tracktracker", "status"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert status.returncode == 0 and "demo-kenji" in status.stderr
    finally:
        subprocess.run(["./tracktracker", "down"], cwd=REPO, env=env, capture_output=True, timeout=120)
    assert processes_of(home) == []
