"""stg_youtube_music__watch_history against PostgreSQL: its dbt unit tests (the SQL's logic) on
the real bronze table."""

from __future__ import annotations

from tracktracker_assets.transform.project import run_dbt


def test_staging_unit_tests_pass(settings) -> None:
    result = run_dbt(settings, ["test", "--select", "test_type:unit,stg_youtube_music__watch_history"])
    assert "stg_youtube_music_one_play_from_json_and_html" in result.stdout and "PASS=1" in result.stdout
