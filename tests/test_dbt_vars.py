"""Every environment variable dbt_project.yml reads is a setting that reaches dbt."""

from __future__ import annotations

import re

import pytest

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.project import DBT_PROJECT_DIR, dbt_env

READ_BY_DBT = sorted(
    set(re.findall(r"env_var\('(TRACKTRACKER_[A-Z_]+)'", (DBT_PROJECT_DIR / "dbt_project.yml").read_text()))
)


def test_dbt_reads_the_thresholds() -> None:
    assert "TRACKTRACKER_SESSION_GAP_MINUTES" in READ_BY_DBT
    assert len(READ_BY_DBT) >= 4


@pytest.mark.parametrize("name", READ_BY_DBT)
def test_each_is_passed_from_settings(tt_home, monkeypatch, name: str) -> None:
    monkeypatch.setenv(name, "7")
    assert dbt_env(Settings.from_env())[name] == "7"
    monkeypatch.delenv(name)
    default = re.search(rf"env_var\('{name}', '(\d+)'\)", (DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert default and dbt_env(Settings.from_env())[name] == default.group(1)  # the same default
