"""The dashboards as assets: read from the same bundle provisioning imports, each depending on the gold
tables its charts read (through datasets and SQL)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from dagster import AssetKey

from tracktracker_assets.dashboards.assets import ASSETS_DIR, dashboard_specs


def test_every_dashboard_of_the_bundle_is_an_asset_on_gold() -> None:
    specs = {spec.key: spec for spec in dashboard_specs()}
    titles = sorted(p.stem for p in (ASSETS_DIR / "dashboards").glob("*.yaml"))
    assert len(specs) == len(titles) == 9
    history = specs[AssetKey(["superset", "listening_history"])]
    assert AssetKey(["gold", "fct_plays"]) in {dep.asset_key for dep in history.deps}
    review = specs[AssetKey(["superset", "year_in_review"])]
    assert {AssetKey(["gold", "listening_streaks"]), AssetKey(["gold", "first_plays_by_artist"])} <= {
        dep.asset_key for dep in review.deps
    }
    for page in ("artist", "track"):
        ranks = AssetKey(["gold", "agg_top_artists"])  # the monthly rank history
        assert ranks in {dep.asset_key for dep in specs[AssetKey(["superset", page])].deps}
    friends = specs[AssetKey(["superset", "compare_with_a_friend"])]
    assert {AssetKey(["gold", "agg_friend_affinity"]), AssetKey(["gold", "agg_friend_shared_artists"])} == {
        dep.asset_key for dep in friends.deps
    }
    for spec in specs.values():
        assert spec.group_name == "dashboards"
        assert spec.deps and all(dep.asset_key.path[0] == "gold" for dep in spec.deps)
        assert spec.metadata["charts"] > 0


def _write(folder: Path, name: str, document: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(document))


def test_dependencies_follow_tables_and_sql_and_skip_other_schemas(tmp_path: Path) -> None:
    _write(tmp_path / "datasets", "a", {"uuid": "d1", "table_name": "agg_top_tracks", "schema": "gold"})
    _write(
        tmp_path / "datasets", "b", {"uuid": "d2", "sql": "select * from gold.fct_plays join GOLD . dim_user"}
    )
    _write(tmp_path / "datasets", "c", {"uuid": "d3", "table_name": "plays", "schema": "silver"})
    for chart, dataset in (("c1", "d1"), ("c2", "d2"), ("c3", "d3"), ("unused", "d1")):
        _write(tmp_path / "charts", chart, {"uuid": chart, "dataset_uuid": dataset})
    position = {
        "CHART-1": {"type": "CHART", "meta": {"uuid": "c1"}},
        "CHART-2": {"type": "CHART", "meta": {"uuid": "c2"}},
        "CHART-3": {"type": "CHART", "meta": {"uuid": "c3"}},
        "ROW-1": {"type": "ROW"},
        "DASHBOARD_VERSION_KEY": "v2",
    }
    _write(
        tmp_path / "dashboards",
        "x",
        {"uuid": "u", "dashboard_title": "My Year, in Music!", "position": position},
    )
    (spec,) = dashboard_specs(tmp_path)
    assert spec.key == AssetKey(["superset", "my_year_in_music"])
    assert sorted(dep.asset_key.path[1] for dep in spec.deps) == ["agg_top_tracks", "dim_user", "fct_plays"]
    assert spec.metadata["charts"] == 3
    assert dashboard_specs(tmp_path / "nothing-here") == []


def test_every_rank_over_time_runs_from_1_at_the_top() -> None:
    """A rank chart whose axis grew upwards from 0 would plot a worse rank higher."""
    ranked = []
    for path in sorted((ASSETS_DIR / "charts").glob("*.yaml")):
        params = yaml.safe_load(path.read_text())["params"]
        if "rank" in str(params.get("y_axis_title", "")).lower():
            ranked.append(path.stem)
            assert json.loads(params["echart_options"])["yAxis"]["inverse"] is True, path.name
            assert params["y_axis_bounds"][0] == 1, path.name
    assert {"Monthly_rank", "Artists_monthly_rank", "Tracks_monthly_rank"} <= set(ranked)


def test_the_bundle_reads_and_zips_as_pure_python_yaml_reads_and_writes_it() -> None:
    """libyaml's loader and dumper (bundle.SAFE_LOADER, SAFE_DUMPER) change nothing of what Superset
    imports: every file reads the same, and every file of the ZIP reads back as the rendered bundle."""
    import io
    import zipfile

    from tracktracker_assets.dashboards.bundle import (
        SAFE_DUMPER,
        SAFE_LOADER,
        bundle_zip,
        load_bundle,
        rendered,
    )

    assert (
        SAFE_LOADER is yaml.CSafeLoader and SAFE_DUMPER is yaml.CSafeDumper
    )  # PyYAML's wheels carry libyaml
    bundle = load_bundle()
    assert bundle == {
        p.relative_to(ASSETS_DIR).as_posix(): yaml.safe_load(p.read_text())
        for p in ASSETS_DIR.rglob("*.yaml")
    }
    url = "postgresql://tracktracker_reader@127.0.0.1:5432/tracktracker"
    with zipfile.ZipFile(io.BytesIO(bundle_zip(bundle, url))) as archive:
        zipped = {
            n.removeprefix("tracktracker/"): yaml.safe_load(archive.read(n)) for n in archive.namelist()
        }
    assert zipped == rendered(bundle, url) and len(zipped) == len(bundle)
