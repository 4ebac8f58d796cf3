"""stg_tidal__streaming against PostgreSQL: its dbt unit tests (the SQL's logic) on the real bronze
table."""

from __future__ import annotations

from tracktracker_assets.transform.project import run_dbt


def test_staging_unit_tests_pass(settings) -> None:
    result = run_dbt(settings, ["test", "--select", "test_type:unit,stg_tidal__streaming"])
    assert "stg_tidal_track_streams_only" in result.stdout and "PASS=1" in result.stdout
