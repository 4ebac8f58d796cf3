"""Row-level security in charts and SQL Lab, writes refused, the warehouse role, listeners' limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg2
import pytest

from tracktracker_assets.dashboards.client import SupersetClient, SupersetError
from tracktracker_assets.dashboards.warehouse_role import reader_password
from tracktracker_assets.warehouse.access import READER_ROLE

from .conftest import BIStack

pytestmark = pytest.mark.slow
PER_USER = [
    "fct_plays",
    "agg_daily_listening",
    "agg_services_daily",
    "agg_hour_weekday",
    "fct_sessions",
    "dim_user",
    "user_status",
    "recent_plays",
    "agg_top_tracks",
    "agg_discovery",
    "agg_skip_reasons",
    "agg_countries",
    "listening_streaks",
]


def rows(client: SupersetClient, stack: BIStack, statement: str, schema: str | None = None) -> list[dict]:
    return client.sql(stack.provisioned.database_id, statement, schema=schema)["data"]


@pytest.fixture
def decoy(bi_stack: BIStack) -> Iterator[str]:
    """A secret outside gold that no listener may read (the warehouse owner's table)."""
    conn = psycopg2.connect(bi_stack.settings.database_url)
    with conn, conn.cursor() as cur:
        cur.execute("create table if not exists public.tt_bi_decoy (name text, value text)")
        cur.execute("insert into public.tt_bi_decoy values ('token', 'do-not-leak')")
    yield "public.tt_bi_decoy"
    with conn, conn.cursor() as cur:
        cur.execute("drop table public.tt_bi_decoy")
    conn.close()


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_sql_lab_shows_a_listener_only_their_rows(bi_stack: BIStack, user: str) -> None:
    client = bi_stack.listener(user)
    for table in PER_USER:
        assert rows(client, bi_stack, f"select distinct user_id from gold.{table}") == [{"user_id": user}], (
            table
        )
    # the schema picked in SQL Lab's UI makes unqualified names work, and still filtered
    assert rows(client, bi_stack, "select distinct user_id from fct_plays", schema="gold") == [
        {"user_id": user}
    ]
    # shared dimensions: only what they played themselves
    for dim, key in (("dim_track", "track_key"), ("dim_artist", "artist_key"), ("dim_album", "album_key")):
        ((played,),) = bi_stack.query(
            f"select count(distinct {key}) from gold.fct_plays where user_id = %s", (user,)
        )
        assert rows(client, bi_stack, f"select count(*) as n from gold.{dim}") == [{"n": played}], dim
    # global trends are shared by design (only entities of >= k listeners)
    ((weekly,),) = bi_stack.query("select count(*) from gold.global_top_tracks_weekly")
    assert rows(client, bi_stack, "select count(*) as n from gold.global_top_tracks_weekly") == [
        {"n": weekly}
    ]


def test_sql_lab_tells_a_listener_to_name_a_shared_dimensions_columns(bi_stack: BIStack) -> None:
    client = bi_stack.listener("alice")
    with pytest.raises(SupersetError, match=r"gold\.dim_artist: name the columns you want"):
        rows(client, bi_stack, "select * from gold.dim_artist")
    named = rows(client, bi_stack, "select artist_name, genres, image_url from gold.dim_artist order by 1")
    ((played,),) = bi_stack.query(
        "select count(distinct artist_key) from gold.fct_plays where user_id = 'alice'"
    )
    assert len(named) == played
    # what tells of other listeners stays PostgreSQL's to refuse
    with pytest.raises(SupersetError, match="permission denied"):
        rows(client, bi_stack, "select artist_name, last_played_at from gold.dim_artist")


def test_charts_show_listeners_different_figures(bi_stack: BIStack) -> None:
    chart_id = bi_stack.provisioned.charts["Sessions"]
    seen = {
        u: bi_stack.listener(u).saved_chart_data(chart_id)[0]["data"][0]["sessions"] for u in ("alice", "bob")
    }
    everyone = bi_stack.admin().saved_chart_data(chart_id)[0]["data"][0]["sessions"]
    for user, sessions in seen.items():
        assert bi_stack.query("select count(*) from gold.fct_sessions where user_id = %s", (user,)) == [
            (sessions,)
        ]
    assert sum(seen.values()) < everyone


BYPASS_ATTEMPTS = [
    ("select distinct user_id from fct_plays", None),  # unqualified, no schema: resolves nowhere
    ("select distinct user_id from gold.fct_plays", "public"),
    ('select distinct user_id from "gold"."fct_plays"', None),
    ("select distinct user_id from GOLD.FCT_PLAYS", None),
    ("with x as (select * from gold.fct_plays) select distinct user_id from x", None),
    ("select (select string_agg(distinct user_id, ',') from gold.fct_plays) as user_id", None),
    ("select user_id from gold.dim_user union select user_id from gold.agg_daily_listening", None),
    ("select distinct f.user_id from gold.dim_artist a join gold.fct_plays f using (artist_key)", None),
    ("select distinct user_id from gold.fct_plays where true or 1 = 1", None),
    ("select 1; select distinct user_id from gold.agg_hour_weekday", None),
    ("select query_to_xml('select distinct user_id from gold.fct_plays', true, false, '') as user_id", None),
    ("select set_config('search_path', 'gold', false) as user_id", None),
    ("set search_path = gold", None),
    ("select usename as user_id from pg_stat_activity", None),
    ("select distinct user_id from silver.int_plays__deduplicated", None),
    ("select distinct user_id from gold.rank_music", None),  # a gold table without a dataset
    ("select user_id from bronze.loaded_files", None),
    ("select * from public.tt_bi_decoy", None),
]


@pytest.mark.parametrize(("statement", "schema"), BYPASS_ATTEMPTS)
def test_sql_lab_tricks_do_not_reveal_other_listeners(
    bi_stack: BIStack, decoy: str, statement: str, schema: str | None
) -> None:
    try:
        found = rows(bi_stack.listener("alice"), bi_stack, statement, schema)
    except SupersetError:
        return  # refused: fine
    text = json.dumps(found)
    for other in ("bob", "carol", "khushi", "erin", "do-not-leak", READER_ROLE):
        assert other not in text, f"{statement!r} revealed {other}"


@pytest.mark.parametrize(
    "statement",
    [
        "drop table gold.fct_plays",
        "insert into gold.dim_date (date_key) values (99990101)",
        "update gold.fct_plays set user_id = 'alice'",
        "delete from gold.fct_plays",
        "create table gold.mine (x int)",
        "create table gold.mine as select * from gold.fct_plays",
        "truncate gold.agg_daily_listening",
    ],
)
def test_sql_lab_refuses_writes(bi_stack: BIStack, statement: str) -> None:
    count = "select (select count(*) from gold.fct_plays), (select count(*) from gold.agg_daily_listening)"
    before = bi_stack.query(count)
    for client in (bi_stack.listener("alice"), bi_stack.admin()):
        with pytest.raises(SupersetError) as refused:
            client.sql(bi_stack.provisioned.database_id, statement)
        assert refused.value.status in (400, 403, 422, 500)
    assert bi_stack.query("select to_regclass('gold.mine')") == [(None,)]
    assert bi_stack.query(count) == before


def test_admin_sees_every_listener(bi_stack: BIStack) -> None:
    found = rows(bi_stack.admin(), bi_stack, "select distinct user_id from gold.fct_plays order by 1")
    assert [r["user_id"] for r in found] == [
        u for (u,) in bi_stack.query("select distinct user_id from gold.fct_plays order by 1")
    ]
    assert len(found) >= 12


def test_listener_cannot_administer(bi_stack: BIStack) -> None:
    client = bi_stack.listener("bob")
    for path in ("/api/v1/rowlevelsecurity/", "/api/v1/security/users/", "/api/v1/security/roles/"):
        with pytest.raises(SupersetError) as denied:
            client.get(path)
        assert denied.value.status in (401, 403, 404)
    with pytest.raises(SupersetError):
        client.post(
            "/api/v1/database/", {"database_name": "x", "sqlalchemy_uri": "postgresql://x@127.0.0.1/x"}
        )
    with pytest.raises(SupersetError):
        client.put(f"/api/v1/dataset/{bi_stack.provisioned.datasets['fct_plays']}", {"sql": "select 1"})


def _as_reader(stack: BIStack, database: str = "tracktracker") -> psycopg2.extensions.connection:
    from urllib.parse import urlsplit

    url = urlsplit(stack.settings.database_url)
    return psycopg2.connect(
        host=url.hostname,
        port=url.port,
        user=READER_ROLE,
        password=reader_password(stack.settings),
        dbname=database,
    )


def test_reader_role_reads_gold_only(bi_stack: BIStack, decoy: str) -> None:
    conn = _as_reader(bi_stack)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from gold.fct_plays")
            assert cur.fetchone()[0] > 0
            cur.execute(
                "select count(*) from gold.user_status"
            )  # a view reading bronze with its owner's rights
            assert cur.fetchone()[0] > 0
            for statement in (
                "select * from silver.int_plays__deduplicated limit 1",
                "select * from bronze.loaded_files limit 1",
                f"select * from {decoy}",
                "insert into gold.dim_date (date_key) values (99990101)",
                "create table gold.mine (x int)",
                "create temporary table mine (x int)",
                "set default_transaction_read_only = off; delete from gold.dim_date",
            ):
                with pytest.raises(psycopg2.Error):
                    cur.execute(statement)
    finally:
        conn.close()
    # Superset's metadata (password hashes) and Dagster's run logs: not even a connection
    for database in ("superset", "dagster"):
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            _as_reader(bi_stack, database)


def test_new_gold_table_without_dataset_is_closed_to_listeners(bi_stack: BIStack) -> None:
    """A gold table nobody described yet has no RLS rule: SQL Lab must refuse it, not show it whole.
    (dbt creates it as the warehouse owner; the reader can read it through default privileges.)"""
    owner = psycopg2.connect(bi_stack.settings.database_url)
    with owner, owner.cursor() as cur:
        cur.execute("create table gold.agg_unlisted as select distinct user_id from gold.fct_plays")
    try:
        reader = _as_reader(bi_stack)
        with reader.cursor() as cur:
            cur.execute("select count(*) from gold.agg_unlisted")
            assert cur.fetchone()[0] > 1
        reader.close()
        with pytest.raises(SupersetError):
            bi_stack.listener("alice").sql(
                bi_stack.provisioned.database_id, "select * from gold.agg_unlisted"
            )
    finally:
        with owner, owner.cursor() as cur:
            cur.execute("drop table gold.agg_unlisted")
        owner.close()
