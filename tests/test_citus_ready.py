"""The warehouse is ready to be distributed by Citus (docs/scale-out.md), checked without Citus.

Citus cannot be installed here (it is a PostgreSQL extension: no wheel, no Debian package for the
embedded server), so what Citus would refuse is checked instead: every silver and gold model declares
where its rows live (meta.distribution), every per-user unique key includes user_id, every dashboard
query is confined to one listener (or reads only reference or global relations), and the generated
deploy/citus/distribute.sql is current and runs, in its order, against the real tables of a built
warehouse, through stand-ins of Citus's two functions that apply Citus's own preconditions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.manifest_keys import unique_keys
from tracktracker_assets.dashboards.security import OWN_ROWS_RULE, wanted_rules
from tracktracker_assets.warehouse.citus import (
    ANCHOR,
    DBT_SCHEMAS,
    PYTHON_TABLES,
    Distribution,
    DistributionError,
    dbt_distributions,
    distribute_sql,
)

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTE_SQL = REPO / "deploy" / "citus" / "distribute.sql"
DATASETS = REPO / "superset" / "assets" / "datasets"
CHARTS = REPO / "superset" / "assets" / "charts"

# Dashboard queries that read a per-user relation Superset's own-rows rule does not cover (it is not a
# dataset of its own), and why each is still confined to listeners' shards: the query groups it by
# user_id (checked below) and joins it on user_id to relations the rule does cover.
NOT_UNDER_THE_RULE = {
    "period_comparison": {
        "gold.first_plays_by_artist": "grouped by user_id, joined on user_id to fct_plays' per-user figures"
    },
}


def _models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{n['schema']}.{n.get('alias') or n['name']}": n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] in DBT_SCHEMAS
    }


@pytest.fixture(scope="module")
def distributions(manifest) -> dict[str, Distribution]:
    return {d.relation: d for d in [*PYTHON_TABLES, *dbt_distributions(manifest)]}


# ---- every model declares one -----------------------------------------------------------------------
def test_every_silver_and_gold_model_has_a_distribution(manifest, distributions) -> None:
    models = _models(manifest)
    assert len(models) > 40  # the project, not an empty manifest
    assert set(models) <= set(distributions)
    kinds = {d.kind for r, d in distributions.items() if r in models}
    assert kinds == {"distributed", "reference", "local"}
    assert distributions[ANCHOR].kind == "distributed" and not distributions[ANCHOR].is_view
    assert distributions["gold.dim_track"].kind == "reference"
    assert distributions["silver.stg_spotify__catalog"].kind == "reference"


def test_a_model_without_one_is_refused_with_what_to_do(manifest) -> None:
    broken = json.loads(json.dumps(manifest))
    node = next(n for n in broken["nodes"].values() if n["name"] == "agg_countries")
    node["config"]["meta"].pop("distribution")
    with pytest.raises(DistributionError, match=r"agg_countries: set meta.distribution in its YAML"):
        dbt_distributions(broken)
    node["config"]["meta"]["distribution"] = {"kind": "local"}
    with pytest.raises(DistributionError, match="says why"):
        dbt_distributions(broken)


def test_distributed_models_document_user_id(manifest, distributions) -> None:
    missing = [
        relation
        for relation, node in _models(manifest).items()
        if distributions[relation].kind == "distributed" and "user_id" not in node["columns"]
    ]
    assert not missing, f"distributed by user_id but no user_id documented in the YAML: {missing}"


def test_every_per_user_unique_key_includes_user_id(manifest, distributions) -> None:
    checked, wrong = 0, []
    for relation, node in _models(manifest).items():
        if distributions[relation].kind != "distributed":
            continue  # reference and local tables are not sharded: any key holds
        for what, columns in unique_keys(manifest, node):
            checked += 1
            if "user_id" not in columns:
                wrong.append(f"{relation}: {what} {columns}")
    assert checked > 20
    assert not wrong, f"unique without user_id on tables distributed by it: {wrong}"


# ---- the tables Python creates ------------------------------------------------------------------
def test_every_bronze_table_is_listed_and_keyed_by_user(conn) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('bronze', 'tt_security') and c.relkind in ('r', 'p')"
        )
        tables = {r[0] for r in cur.fetchall()}
        listed = {d.relation: d for d in PYTHON_TABLES}
        assert tables == set(listed), f"unlisted: {tables - set(listed)}; gone: {set(listed) - tables}"
        cur.execute(
            "select a.attrelid::regclass::text from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'bronze' "
            "and a.attname = 'user_id' and a.attnotnull and not a.attisdropped"
        )
        with_user = {r[0] for r in cur.fetchall()}
    distributed = {r for r, d in listed.items() if d.kind == "distributed"}
    assert len(distributed) >= 15
    # distributed where they have a user_id; the exceptions say why
    assert distributed <= with_user
    for relation in with_user - distributed:
        assert listed[relation].kind == "reference" and listed[relation].reason, relation
    assert _keys_without_user_id(conn, sorted(distributed)) == []


def _keys_without_user_id(conn, relations: list[str]) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "select i.indexrelid::regclass::text from pg_index i "
            "where i.indrelid = any(%s::regclass[]) and i.indisunique and not exists ("
            "  select from pg_attribute a where a.attrelid = i.indrelid and a.attname = 'user_id' "
            "  and a.attnum = any(i.indkey))",
            (relations,),
        )
        return [r[0] for r in cur.fetchall()]


# ---- deploy/citus/distribute.sql ----------------------------------------------------------------
def test_distribute_sql_is_generated_from_the_meta(manifest) -> None:
    assert DISTRIBUTE_SQL.read_text() == distribute_sql(manifest), (
        "deploy/citus/distribute.sql is stale: python -m tracktracker_assets.warehouse.citus > "
        "deploy/citus/distribute.sql"
    )


# Stand-ins for Citus's functions, in their own schema, with Citus's signatures. They record each call
# and refuse what Citus refuses: a missing table or column, a unique key without the distribution
# column, co-location with a table not distributed yet or by another column type, a table twice.
STUBS = """
create schema citus_stub;
create table citus_stub.calls (n serial, fn text, rel text, col text, anchor text);
create function citus_stub.create_reference_table(table_name regclass) returns void language plpgsql as $$
begin
    if exists (select from citus_stub.calls where rel = table_name::text) then
        raise exception 'table % is already distributed', table_name;
    end if;
    insert into citus_stub.calls (fn, rel) values ('reference', table_name::text);
end $$;
create function citus_stub.create_distributed_table(
    table_name regclass, distribution_column text, distribution_type text default 'hash',
    colocate_with text default 'default', shard_count integer default null
) returns void language plpgsql as $$
declare
    col_type oid;
begin
    if exists (select from citus_stub.calls where rel = table_name::text) then
        raise exception 'table % is already distributed', table_name;
    end if;
    select atttypid into col_type from pg_attribute
    where attrelid = table_name and attname = distribution_column and not attisdropped;
    if col_type is null then
        raise exception 'column "%" of relation "%" does not exist', distribution_column, table_name;
    end if;
    if exists (
        select from pg_index i where i.indrelid = table_name and i.indisunique and not exists (
            select from pg_attribute a where a.attrelid = i.indrelid and a.attname = distribution_column
            and a.attnum = any(i.indkey))
    ) then
        raise exception 'cannot distribute %: a unique key does not include %',
            table_name, distribution_column;
    end if;
    if colocate_with not in ('none', 'default') then
        if not exists (select from citus_stub.calls
                       where rel = colocate_with::regclass::text and fn = 'distributed') then
            raise exception 'cannot colocate % with %: not a distributed table', table_name, colocate_with;
        end if;
        if col_type <> (select a.atttypid from pg_attribute a join citus_stub.calls c
                        on c.rel = colocate_with::regclass::text and a.attrelid = colocate_with::regclass
                        and a.attname = c.col) then
            raise exception 'cannot colocate % with %: distribution column types differ',
                table_name, colocate_with;
        end if;
    end if;
    insert into citus_stub.calls (fn, rel, col, anchor)
    values ('distributed', table_name::text, distribution_column, colocate_with);
end $$;
"""


@pytest.fixture(scope="module")
def built_warehouse(settings, distributions):
    """Every silver and gold table built: by dbt here when this module runs alone (on empty bronze: the
    tables, columns and indexes are real), as other tests of the session left it otherwise (a build
    here would consume what they loaded and have yet to refresh)."""
    from tracktracker_assets.transform.project import run_dbt
    from tracktracker_assets.warehouse.db import query

    tables = [r for r, d in distributions.items() if not d.is_view and r.split(".")[0] in DBT_SCHEMAS]
    [(missing,)] = query(
        settings.database_url,
        "select count(*) from unnest(%s::text[]) t where to_regclass(t) is null",
        (tables,),
    )[1]
    if missing:
        run_dbt(settings, ["run", "--quiet"])
    return settings


def test_distribute_sql_runs_in_order_on_the_built_tables(built_warehouse, conn, distributions) -> None:
    sql = DISTRIBUTE_SQL.read_text()
    statements = [s for s in sql.splitlines() if s.startswith("SELECT ")]
    try:
        with conn.cursor() as cur:
            cur.execute(STUBS)
            cur.execute("set local search_path = citus_stub, public")
            cur.execute(sql)
            cur.execute("select fn, rel, col, anchor from citus_stub.calls order by n")
            calls = cur.fetchall()
    finally:
        conn.rollback()  # nothing of the stand-ins stays behind
    tables = {r: d for r, d in distributions.items() if not d.is_view}
    assert len(calls) == len(statements) == len([d for d in tables.values() if d.kind != "local"])
    assert {rel for _, rel, _, _ in calls} == {r for r, d in tables.items() if d.kind != "local"}
    kinds = [fn for fn, *_ in calls]
    assert kinds == sorted(kinds, key=lambda k: k != "reference")  # reference tables first
    first = next(c for c in calls if c[0] == "distributed")
    assert first == ("distributed", ANCHOR, "user_id", "none")
    for fn, rel, col, colocate_with in calls:
        assert fn == tables[rel].kind
        if fn == "distributed" and rel != ANCHOR:
            assert (col, colocate_with) == ("user_id", ANCHOR)


def test_the_stand_ins_refuse_what_citus_refuses(built_warehouse, conn) -> None:
    """The check above means something: a key without user_id, or the wrong order, is refused."""
    import psycopg2

    cases = {
        "create table public.t (pull_id text primary key, user_id text not null); "
        f"select create_distributed_table('public.t', 'user_id', colocate_with => '{ANCHOR}')": "unique key",
        f"select create_distributed_table('gold.agg_countries', 'user_id', colocate_with => '{ANCHOR}')": (
            "not a distributed table"
        ),
        "select create_distributed_table('gold.dim_date', 'user_id')": "does not exist",
    }
    for statement, refusal in cases.items():
        try:
            with conn.cursor() as cur:
                cur.execute(STUBS)
                cur.execute("set local search_path = citus_stub, public")
                with pytest.raises(psycopg2.Error, match=refusal):
                    cur.execute(statement)
        finally:
            conn.rollback()


def test_the_built_distributed_tables_key_by_user(built_warehouse, conn, distributions) -> None:
    distributed = sorted(r for r, d in distributions.items() if d.kind == "distributed" and not d.is_view)
    assert _keys_without_user_id(conn, distributed) == []


# ---- dashboards -------------------------------------------------------------------------------------
def _datasets() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(DATASETS.rglob("*.yaml"))}


def _relations_read(dataset: dict[str, Any]) -> set[str]:
    if not dataset.get("sql"):
        return {f"{dataset['schema']}.{dataset['table_name']}"}
    sql = re.sub(r"--[^\n]*", "", dataset["sql"])
    assert not re.search(r"\b(silver|bronze|tt_security|public)\.", sql), dataset["table_name"]
    return {f"gold.{name}" for name in re.findall(r"\bgold\.(\w+)", sql, re.IGNORECASE)}


def test_every_dashboard_query_is_confined_to_a_listener(distributions) -> None:
    """A dataset reading a distributed relation is confined to one listener's shard: Superset's
    own-rows rule (`user_id = '<listener>'`, a constant Citus routes by) applies to every dataset with
    a user_id column, and, in a virtual dataset, to each dataset-table its SQL reads. Reference and
    global (local) relations may be read whole."""
    datasets = _datasets()
    ids = {name: i for i, name in enumerate(datasets)}
    columns = {ids[name]: {c["column_name"] for c in d["columns"]} for name, d in datasets.items()}
    rule = next(r for r in wanted_rules(ids, columns) if r.name == OWN_ROWS_RULE)
    ruled = {f"{d['schema']}.{d['table_name']}" for name, d in datasets.items() if ids[name] in rule.tables}

    found: dict[str, dict[str, str]] = {}
    for name, dataset in datasets.items():
        for relation in sorted(_relations_read(dataset)):
            assert relation in distributions, f"{name} reads {relation}, which declares no distribution"
            if distributions[relation].kind != "distributed":
                continue
            if ids[name] in rule.tables and relation in ruled:
                continue
            found.setdefault(name, {})[relation] = NOT_UNDER_THE_RULE.get(name, {}).get(relation, "")
    assert found == NOT_UNDER_THE_RULE, "a dashboard query reads per-user rows without a user_id filter"
    for name in NOT_UNDER_THE_RULE:
        assert re.search(r"group by [\w.]*user_id", datasets[name]["sql"], re.IGNORECASE), name
        assert ids[name] in rule.tables  # and its own rows are the listener's

    # every chart draws from one of these datasets (none brings SQL of its own past this check)
    uuids = {d["uuid"] for d in datasets.values()}
    charts = [yaml.safe_load(p.read_text()) for p in sorted(CHARTS.glob("*.yaml"))]
    assert charts and all(c["dataset_uuid"] in uuids for c in charts)
