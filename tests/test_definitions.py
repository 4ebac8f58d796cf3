"""The Dagster code location loads, and its asset graph is one lineage from bronze to gold."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

DASHBOARD_FILES = Path(__file__).resolve().parents[1] / "superset" / "assets" / "dashboards"


def test_definitions_load_as_one_lineage(settings) -> None:
    from tracktracker_assets.definitions import load

    defs = load()

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "bronze/spotify_extended_history",
        "bronze/spotify_account_history",
        "bronze/registry_users",
        "silver/int_plays__deduplicated",
        "gold/fct_plays",
        "gold/agg_top_tracks",
    } <= keys
    # dbt sources are the very bronze assets Python writes: no dangling source assets
    upstream = graph.get(AssetKey(["silver", "stg_spotify__extended_history"])).parent_keys
    assert AssetKey(["bronze", "spotify_extended_history"]) in upstream
    ancestors = (
        graph.get(AssetKey(["gold", "fct_plays"])).ancestor_keys
        if hasattr(graph.get(AssetKey(["gold", "fct_plays"])), "ancestor_keys")
        else None
    )
    if ancestors is not None:
        assert AssetKey(["bronze", "spotify_account_history"]) in ancestors
    assert graph.get(AssetKey(["bronze", "spotify_extended_history"])).partitions_def is not None
    assert graph.get(AssetKey(["gold", "fct_plays"])).group_name == "gold"
    # dbt tests and our own invariants are asset checks
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "fct_plays_reconciles_with_bronze",
        "fct_plays_no_duplicate_events",
        "no_rejected_files",
    } <= checks
    assert any(name.startswith("relationships_fct_plays_track_key") for name in checks)  # a dbt test
    assert {j.name for j in defs.resolve_all_job_defs()} >= {
        "import_exports",
        "refresh_warehouse",
        "build_takeouts",
    }
    # the dashboards close the lineage: bronze → silver → gold → Superset
    dashboards = [k for k in keys if k.startswith("superset/")]
    assert len(dashboards) == len(list(DASHBOARD_FILES.glob("*.yaml"))) >= 9  # one asset per dashboard
    history = graph.get(AssetKey(["superset", "listening_history"]))
    assert AssetKey(["gold", "fct_plays"]) in history.parent_keys


def test_every_sensor_runs_at_the_configured_interval_and_still_evaluates(settings) -> None:
    """TRACKTRACKER_SENSOR_INTERVAL_S reaches every sensor when the definitions are built; the copies
    evaluate exactly like the sensors they were made from."""
    from dataclasses import replace

    from dagster import DagsterInstance, build_sensor_context

    from tracktracker_assets.exports import definitions as exports
    from tracktracker_assets.exports.sensors import inbox_sensor
    from tracktracker_assets.orchestration.sensors import every
    from tracktracker_assets.takeout import definitions as takeout
    from tracktracker_assets.users import definitions as users

    faster = replace(settings, sensor_interval_s=7)
    sensors = [*exports.defs(faster).sensors, *users.defs(faster).sensors, *takeout.defs(faster).sensors]
    assert [s.minimum_interval_seconds for s in sensors] == [7, 7, 7]
    assert inbox_sensor.minimum_interval_seconds == 30  # the declared one is untouched

    copy = every(inbox_sensor, 7)
    assert (copy.name, copy.job_name, copy.default_status) == (
        inbox_sensor.name,
        inbox_sensor.job_name,
        inbox_sensor.default_status,
    )
    with DagsterInstance.ephemeral() as instance:
        result = copy(build_sensor_context(instance=instance))
    assert result.__class__.__name__ == "SkipReason"
