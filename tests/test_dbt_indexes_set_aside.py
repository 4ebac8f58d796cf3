"""dbt/macros/indexes_set_aside.sql: a large insert into a small table goes in without the table's
indexes, which come back the same; a smaller one, or one into a larger table, keeps them; a duplicate
still fails the build and leaves the table as it was. The macros' own SQL, rendered by dbt, run against
PostgreSQL as the incremental strategies run them (one transaction)."""

from __future__ import annotations

import psycopg2
import pytest

from tracktracker_assets.transform.project import run_dbt
from tracktracker_assets.warehouse.db import connect

TARGET, SOURCE = "aside_check.target", "aside_check.source"


def rendered(settings, jinja: str) -> str:
    return run_dbt(settings, ["compile", "--quiet", "--inline", jinja]).stdout


@pytest.fixture(scope="module")
def around_insert(settings) -> tuple[str, str]:
    """(set aside, put back) for TARGET, with 20 new rows as the least worth it."""
    text = rendered(
        settings,
        f"{{{{ set_indexes_aside('{TARGET}', '{SOURCE}', min_rows=20) }}}}"
        f"\n-- between --\n{{{{ put_indexes_back('{TARGET}') }}}}",
    )
    before, after = text.split("-- between --")
    return before, after


@pytest.fixture
def tables(settings):
    conn = connect(settings.database_url, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("drop schema if exists aside_check cascade; create schema aside_check")
        cur.execute(f"create table {TARGET} (id int primary key, k text, v int)")
        cur.execute(f"create unique index target_k on {TARGET} (k)")
        cur.execute(f"create index target_v_low on {TARGET} (v) where v < 100")
        cur.execute(f"create index target_k_v on {TARGET} (lower(k), v desc)")
        cur.execute(f"insert into {TARGET} select i, 'k' || i, i from generate_series(1, 10) as i")
        cur.execute(f"create table {SOURCE} (like {TARGET})")
    try:
        yield conn
    finally:
        with conn.cursor() as cur:
            cur.execute("drop schema aside_check cascade")
        conn.close()


def indexes(cur) -> set[tuple[str, str]]:
    cur.execute(
        "select indexname, indexdef from pg_indexes where schemaname = 'aside_check' and tablename = 'target'"
    )
    return set(cur.fetchall())


def insert_between(settings, around: tuple[str, str], new_rows: range) -> tuple[set, set, int]:
    """Indexes while the rows go in, and after; rows of the target after (one transaction)."""
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"insert into {SOURCE} select i, 'k' || i, i from unnest(%s::int[]) as i", (list(new_rows),)
            )
            cur.execute(around[0])
            during = indexes(cur)
            cur.execute(f"insert into {TARGET} select * from {SOURCE}")
            cur.execute(around[1])
            after = indexes(cur)
            cur.execute(f"select count(*) from {TARGET}")
            count = cur.fetchone()[0]
        conn.commit()
        return during, after, count
    finally:
        conn.close()


def test_a_large_insert_into_a_small_table_goes_in_without_its_indexes(
    settings, tables, around_insert
) -> None:
    with tables.cursor() as cur:
        kept = indexes(cur)
    during, after, count = insert_between(settings, around_insert, range(11, 61))
    # only the primary key's index (a constraint's) stays; the rest come back as they were
    assert {name for name, _ in during} == {"target_pkey"}
    assert after == kept and count == 60
    with tables.cursor() as cur:
        cur.execute(f"select count(*) from {TARGET} where k = 'k42'")  # the unique index answers
        assert cur.fetchone()[0] == 1
        # analyzed with them: the models after it plan with statistics of the rows it holds now
        cur.execute("select reltuples from pg_class where oid = %s::regclass", (TARGET,))
        assert cur.fetchone()[0] == 60
        cur.execute("select count(*) from pg_stats where schemaname = 'aside_check' and tablename = 'target'")
        assert cur.fetchone()[0] == 3


@pytest.mark.parametrize(
    "new_rows", [range(11, 30), range(11, 56)], ids=["too-few-rows", "not-more-than-the-table"]
)
def test_a_smaller_insert_keeps_the_indexes(settings, tables, around_insert, new_rows: range) -> None:
    with tables.cursor() as cur:
        cur.execute(f"insert into {TARGET} select i, 'extra' || i, i from generate_series(100, 139) as i")
        kept = indexes(cur)
    during, after, _ = insert_between(settings, around_insert, new_rows)
    assert during == kept and after == kept


def test_rows_the_batch_replaces_do_not_count_as_staying(settings, tables) -> None:
    """A batch that replaces most of the table (a listener's scrobbles folded into their whole Spotify
    history: every user-day of theirs written again) goes in without the indexes, though the table held
    as many rows as the batch; the same batch replacing nothing keeps them."""
    keyed = rendered(
        settings,
        f"{{{{ set_indexes_aside('{TARGET}', '{SOURCE}', min_rows=20, unique_key=['id']) }}}}"
        f"\n-- between --\n{{{{ put_indexes_back('{TARGET}') }}}}",
    ).split("-- between --")
    with tables.cursor() as cur:
        cur.execute(f"insert into {TARGET} select i, 'k' || i, i from generate_series(11, 50) as i")
        kept = indexes(cur)
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            # 30 rows replace ids 21-50: 20 of the table's 50 stay
            cur.execute(f"insert into {SOURCE} select i, 'new' || i, -i from generate_series(21, 50) as i")
            cur.execute(keyed[0])
            during = indexes(cur)
            cur.execute(f"delete from {TARGET} where (id) in (select distinct id from {SOURCE})")
            cur.execute(f"insert into {TARGET} select * from {SOURCE}")
            cur.execute(keyed[1])
            assert {name for name, _ in during} == {"target_pkey"}
            assert indexes(cur) == kept
            cur.execute(f"select count(*), count(*) filter (where k like 'new%%') from {TARGET}")
            assert cur.fetchone() == (50, 30)
            # the same 30 rows under ids the table does not hold: all 50 stay, the indexes too
            cur.execute(f"update {SOURCE} set id = id + 1000, k = 'other' || id")
            cur.execute(keyed[0])
            assert indexes(cur) == kept
            cur.execute(keyed[1])
        conn.rollback()
    finally:
        conn.close()


def test_a_duplicate_fails_and_leaves_the_table_as_it_was(settings, tables, around_insert) -> None:
    with tables.cursor() as cur:
        kept = indexes(cur)
        cur.execute(f"insert into {SOURCE} select i + 100, 'k' || i, i from generate_series(1, 50) as i")
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute(around_insert[0])
            cur.execute(f"insert into {TARGET} select * from {SOURCE}")  # k1..k10 twice: no index to refuse
            cur.execute(around_insert[1])  # the unique index, made again, does
        conn.rollback()
    finally:
        conn.close()
    with tables.cursor() as cur:
        assert indexes(cur) == kept
        cur.execute(f"select count(*) from {TARGET}")
        assert cur.fetchone()[0] == 10


def test_the_projects_strategies_are_dbts_with_the_indexes_set_aside(settings, tables) -> None:
    """dbt finds the project's append and delete+insert (the incremental models' own) and they run as a
    whole: dbt's statements between the set-aside and the put-back."""
    relation = "api.Relation.create(database=target.dbname, schema='aside_check', identifier='{}')"
    arguments = (
        f"{{'target_relation': {relation.format('target')}, 'temp_relation': {relation.format('source')},"
        " 'unique_key': ['id'], 'dest_columns': [{'name': 'id'}, {'name': 'k'}, {'name': 'v'}],"
        " 'incremental_predicates': none}"
    )
    with tables.cursor() as cur:
        kept = indexes(cur)
        cur.execute(f"insert into {SOURCE} select i, 'k' || i, i from generate_series(5, 30050) as i")
    for strategy in ("get_incremental_append_sql", "get_incremental_delete_insert_sql"):
        sql = rendered(settings, f"{{{{ {strategy}({arguments}) }}}}")
        assert "$set_aside$" in sql and "$put_back$" in sql and "insert into" in sql, sql
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)  # delete+insert: rows 5-10 replaced, 30,040 more (a batch of 10,000 or more)
            assert indexes(cur) == kept
            cur.execute(f"select count(*), count(distinct k) from {TARGET}")
            assert cur.fetchone() == (30050, 30050)
        conn.commit()
    finally:
        conn.close()
