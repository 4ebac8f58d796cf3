"""A hostile listener: every trick that got around Superset's filters, and more, tried through the real
Superset over HTTP (SQL Lab and chart custom SQL) and over a direct PostgreSQL connection as the
listener's own role. No answer may ever hold another listener's rows; runaway queries are stopped by
the server; nothing of the connection or of other people leaks through Superset's API."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg2
import pytest

from tests.shared_dimensions import HIDDEN
from tracktracker_assets.dashboards.client import SupersetClient, SupersetError
from tracktracker_assets.warehouse.access import read_listener_login

from .conftest import BIStack

pytestmark = pytest.mark.slow
ME = "alice"

# Tricks that read through Superset's own filter before PostgreSQL enforced row security.
SQL_TRICKS = [
    "select * from ts_stat('select to_tsvector(''simple'', user_id) from gold.fct_plays')",
    "select ts_stat('select to_tsvector(''simple'', display_name) from gold.dim_user')",
    "select encode(convert_to(string_agg(user_id || ended_at::text, ','), 'UTF8'), 'hex') as h "
    "from (select * from gold.fct_plays order by ended_at desc limit 5) as p",
    "prepare q as select user_id, display_name, timezone from gold.dim_user; execute q",
    "prepare r as select distinct user_id from gold.rank_music; execute r",
    "select query_to_xml('select user_id from gold.dim_user', true, false, '') as x",
    "select xmlagg(xmlelement(name u, user_id, display_name)) as x from gold.dim_user",
    "select json_agg(distinct user_id) as j from gold.fct_plays",
    "select jsonb_object_agg(user_id, timezone) as j from gold.user_status",
    "select array_agg(distinct user_id) as a from gold.agg_daily_listening",
    "declare c cursor for select distinct user_id from gold.fct_plays; fetch all from c",
    "with recursive r (n) as (select 1 union all select n + 1 from r where n < 3) "
    "select distinct f.user_id from gold.fct_plays as f, r",
    "table gold.dim_user",
    "select distinct user_id from gold.fct_plays tablesample system (100)",
    "explain analyze select * from gold.fct_plays",
    "explain (format json) select * from gold.dim_user",
    "copy (select distinct user_id from gold.fct_plays) to stdout",
    "copy gold.dim_user to stdout",
    "set session authorization default",
    "set role tt_listeners",
    "reset role",
    "select set_config('row_security', 'off', false) as x",
    "set row_security = off",
    "select set_config('statement_timeout', '0', false) as x",
    "do $$ begin perform pg_sleep(0); end $$",
    "select usename as user_id, application_name from pg_stat_activity",
    "select rolname as user_id from pg_roles",
    "select most_common_vals::text as v from pg_stats where tablename = 'fct_plays'",
    "select * from tt_security.listener_roles",
    "select distinct user_id from silver.int_plays__deduplicated",
    "select user_id from bronze.loaded_files",
    "select distinct user_id from gold.fct_plays where user_id <> 'alice' or true",
    "select distinct f.user_id from gold.dim_track as t join gold.fct_plays as f using (track_key)",
    "select (select string_agg(distinct user_id, ',') from gold.recent_plays) as user_id",
    "select distinct user_id from gold.agg_top_tracks union select user_id from gold.fct_sessions",
    "select user_id from gold.dim_user where timezone is not null",
    "select pg_advisory_lock(hashtext('tracktracker.dbt'))",
    "select current_user, session_user, version(), inet_server_port()",
    "listen tracktracker; notify tracktracker",
    "lock gold.fct_plays",
    "start transaction read write; delete from gold.dim_date",
]


@pytest.fixture(scope="module")
def others(bi_stack: BIStack) -> list[str]:
    """What identifies every listener but ME: user ids and display names."""
    rows = bi_stack.query("select user_id, display_name from gold.dim_user where user_id <> %s", (ME,))
    assert len(rows) >= 10
    return sorted({v for row in rows for v in row if v})


@pytest.fixture(scope="module")
def me(bi_stack: BIStack) -> SupersetClient:
    return bi_stack.listener(ME)


@pytest.fixture(scope="module")
def direct(bi_stack: BIStack) -> Iterator[psycopg2.extensions.connection]:
    """A direct connection as ME's own PostgreSQL role (the login Superset uses for ME)."""
    login = read_listener_login(bi_stack.settings, ME)
    assert login is not None
    url = urlsplit(bi_stack.settings.database_url)
    conn = psycopg2.connect(
        host=url.hostname, port=url.port, user=login.role, password=login.password, dbname="tracktracker"
    )
    conn.autocommit = True
    yield conn
    conn.close()


def assert_nothing_of(others: list[str], answer: object, trick: str) -> None:
    text = json.dumps(answer, default=str)
    leaked = [o for o in others if o in text]
    assert not leaked, f"{trick!r} revealed {leaked}"


@pytest.mark.parametrize("trick", SQL_TRICKS)
def test_sql_lab_tricks_reveal_no_other_listener(
    bi_stack: BIStack, me: SupersetClient, others: list[str], trick: str
) -> None:
    try:
        answer = me.sql(bi_stack.provisioned.database_id, trick)
    except SupersetError as refused:
        assert refused.status in (400, 403, 422, 500)
        return
    assert_nothing_of(others, answer.get("data"), trick)


@pytest.mark.parametrize("trick", SQL_TRICKS)
def test_direct_connection_tricks_reveal_no_other_listener(
    direct: psycopg2.extensions.connection, others: list[str], trick: str
) -> None:
    """The same tricks with Superset out of the way: PostgreSQL alone decides."""
    found: list[object] = []
    with direct.cursor() as cur:
        try:
            if trick.startswith("copy "):
                buffer = io.StringIO()
                cur.copy_expert(trick, buffer)
                found.append(buffer.getvalue())
            else:
                cur.execute(trick)
                if cur.description:
                    found.extend(cur.fetchall())
        except psycopg2.Error:
            pass  # refused by the server: fine
        finally:  # undo what a trick changed in this session (it cannot change the role's settings)
            for undo in ("rollback", "reset all"):
                with contextlib.suppress(psycopg2.Error):
                    cur.execute(undo)
    assert_nothing_of(others, found, trick)


def test_the_listener_role_sees_only_its_rows_and_what_it_played(
    bi_stack: BIStack, direct: psycopg2.extensions.connection
) -> None:
    relations = bi_stack.query(
        "select c.relname, exists (select from pg_attribute a where a.attrelid = c.oid "
        "and a.attname = 'user_id' and not a.attisdropped) "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'gold' and c.relkind in ('r', 'v') order by 1"
    )
    assert len(relations) > 20
    with direct.cursor() as cur:
        for name, per_user in relations:
            if per_user:
                cur.execute(f"select distinct user_id from gold.{name}")
                assert {r[0] for r in cur.fetchall()} <= {ME}, name
        for dim, key in (
            ("dim_track", "track_key"),
            ("dim_artist", "artist_key"),
            ("dim_album", "album_key"),
        ):
            ((played,),) = bi_stack.query(
                f"select count(distinct {key}) from gold.fct_plays where user_id = %s", (ME,)
            )
            cur.execute(f"select count(*) from gold.{dim}")
            assert cur.fetchone()[0] == played, dim
        # the k-anonymous global tables stay readable by everyone
        ((weekly,),) = bi_stack.query("select count(*) from gold.global_top_tracks_weekly")
        cur.execute("select count(*) from gold.global_top_tracks_weekly")
        assert cur.fetchone()[0] == weekly > 0
        # the server holds the limits the role was given
        cur.execute("show statement_timeout")
        assert cur.fetchone()[0] == f"{bi_stack.sqllab_timeout}s"
        cur.execute("show default_transaction_read_only")
        assert cur.fetchone()[0] == "on"


def test_a_shared_dimension_shows_a_listener_nothing_of_what_others_did(
    bi_stack: BIStack, direct: psycopg2.extensions.connection
) -> None:
    for dim, hidden in HIDDEN.items():
        columns = [
            name
            for (name,) in bi_stack.query(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                "and not attisdropped order by attnum",
                (f"gold.{dim}",),
            )
        ]
        assert hidden < set(columns), dim
        with direct.cursor() as cur:  # every other column reads, on the rows of what ME played
            cur.execute(f"select {', '.join(c for c in columns if c not in hidden)} from gold.{dim}")
            assert cur.rowcount > 0, dim
        refused = [f"select {column} from gold.{dim}" for column in sorted(hidden)]
        refused += [f"select * from gold.{dim}", f"select d::text from gold.{dim} as d", f"table gold.{dim}"]
        for statement in refused:
            with direct.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
        # the admin's reader reads them all
        ((readable,),) = bi_stack.query(
            "select bool_and(has_column_privilege('superset_reader', %s, c, 'select')) "
            "from unnest(%s::text[]) as c",
            (f"gold.{dim}", sorted(hidden)),
        )
        assert readable, dim


def test_a_warehouse_built_before_hides_those_columns_when_it_is_migrated(bi_stack: BIStack) -> None:
    """Its dimensions granted listeners every column; the migration closes the hidden ones at once."""
    from tracktracker_assets.warehouse.db import connection
    from tracktracker_assets.warehouse.schema import migrate

    def readable(dim: str) -> set[str]:
        return {
            name
            for (name,) in bi_stack.query(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                "and not attisdropped and has_column_privilege('tt_listeners', attrelid, attnum, 'select')",
                (f"gold.{dim}",),
            )
        }

    now = {dim: readable(dim) for dim in HIDDEN}
    with connection(bi_stack.settings.database_url) as conn, conn.cursor() as cur:
        for dim in HIDDEN:  # as the builds before left them
            cur.execute(f"grant select on gold.{dim} to tt_listeners")
        cur.execute("delete from bronze.schema_migrations where version = 13")
    assert all(hidden <= readable(dim) for dim, hidden in HIDDEN.items())
    with connection(bi_stack.settings.database_url) as conn:
        assert 13 in migrate(conn)
    assert {dim: readable(dim) for dim in HIDDEN} == now
    assert not any(
        has
        for ((has,),) in (
            bi_stack.query(f"select has_table_privilege('tt_listeners', 'gold.{dim}', 'select')")
            for dim in HIDDEN
        )
    )


def test_every_gold_relation_is_guarded(bi_stack: BIStack) -> None:
    """Tables: row security on, a listeners' policy; views: the caller's rights, or their owner's by
    design (shared, or a comparison between friends that checks consent itself)."""
    # the global trends' names, and counts of listeners per week (whether there are enough yet)
    shared_views = {"global_top_tracks_weekly", "global_top_artists_weekly", "global_listeners"}
    # what two listeners who both agreed see of each other (tests/test_friends.py)
    shared_views |= {"agg_friend_affinity", "agg_friend_shared_artists"}
    for name, kind, rls, options, listeners_may_read in bi_stack.query(
        "select c.relname, c.relkind, c.relrowsecurity, coalesce(c.reloptions, '{}'), "
        "has_any_column_privilege('tt_listeners', c.oid, 'select') "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'gold' and c.relkind in ('r', 'v', 'p', 'm')"
    ):
        assert listeners_may_read, name
        if kind == "v":
            assert ("security_invoker=true" in options) != (name in shared_views), name
        else:
            assert rls, name
            policies = bi_stack.query(
                "select polname from pg_policy where polrelid = %s::regclass", (f"gold.{name}",)
            )
            assert any(p.startswith("tt_listeners_") for (p,) in policies), name


def test_chart_custom_sql_is_held_to_the_same_rules(bi_stack: BIStack, me: SupersetClient) -> None:
    dataset = bi_stack.provisioned.datasets["fct_plays"]

    def chart(expression: str) -> list[dict]:
        context = {
            "datasource": {"id": dataset, "type": "table"},
            "queries": [
                {
                    "columns": [{"expressionType": "SQL", "sqlExpression": expression, "label": "x"}],
                    "metrics": [{"expressionType": "SQL", "sqlExpression": "count(*)", "label": "n"}],
                    "row_limit": 50,
                }
            ],
            "result_format": "json",
            "result_type": "full",
        }
        return me.chart_data(context)[0]["data"]

    for expression in (
        "ts_stat('select to_tsvector(''simple'', user_id) from gold.fct_plays')",
        "current_user",
        "version()",
        "inet_server_port()",
        "query_to_xml('select user_id from gold.dim_user', true, false, '')",
        "set_config('row_security', 'off', false)",
        "pg_advisory_lock(1)",
    ):
        with pytest.raises(SupersetError) as refused:
            chart(expression)
        assert refused.value.status in (400, 403, 422), expression
    assert {row["x"] for row in chart("user_id")} == {ME}


def test_a_runaway_query_is_stopped_by_the_server(bi_stack: BIStack, me: SupersetClient) -> None:
    """SQL Lab's timeout is the listener role's statement_timeout: a SET cannot lift it (refused), and
    the server cancels the query when it runs out, whatever Superset's threads do."""
    database = bi_stack.provisioned.database_id
    for lift in ("set statement_timeout = 0", "select set_config('statement_timeout', '0', false)"):
        with pytest.raises(SupersetError):
            me.sql(database, lift)
    began = time.monotonic()
    with pytest.raises(SupersetError) as stopped:
        me.sql(
            database,
            "set statement_timeout = 0; "
            "select count(*) from gold.dim_date as a, gold.dim_date as b, gold.dim_date as c",
        )
    assert "refused" in str(stopped.value).lower()  # the SET is refused before anything runs
    with pytest.raises(SupersetError) as stopped:
        me.sql(database, "select count(*) from gold.dim_date as a, gold.dim_date as b, gold.dim_date as c")
    took = time.monotonic() - began
    assert "canceling statement due to statement timeout" in str(stopped.value), stopped.value
    assert took < bi_stack.sqllab_timeout + 15, took


def test_listeners_see_nobody_else_in_superset(
    bi_stack: BIStack, me: SupersetClient, others: list[str]
) -> None:
    """Every "related" picker of Superset's API (owners, creators, editors, users, roles) shows a listener
    themselves only, and their own role; exports (bundles carry the connection) are refused."""
    answered = 0
    for resource in ("dashboard", "chart", "dataset", "saved_query", "query", "css_template", "tag"):
        for field in ("owners", "created_by", "changed_by", "user", "roles"):
            body = me.request("GET", f"/api/v1/{resource}/related/{field}", ok=(400, 403, 404))
            if isinstance(body, dict) and "count" in body:
                answered += 1
                assert len(body["result"]) <= 1, (resource, field, body)  # themselves at most
                assert_nothing_of(others, body, f"{resource}/related/{field}")
                assert "Admin" not in json.dumps(body), (resource, field)
    assert answered >= 10
    for resource in ("dashboard", "chart", "dataset", "database", "saved_query"):
        ids = bi_stack.provisioned.dashboards.values() if resource == "dashboard" else [1]
        with pytest.raises(SupersetError) as refused:
            me.get(f"/api/v1/{resource}/export/", params={"q": f"!({','.join(map(str, ids))})"})
        assert refused.value.status in (401, 403, 404), resource


def test_no_password_in_superset(bi_stack: BIStack) -> None:
    """Neither Superset's metadata (the action log above all) nor its processes' environment hold a
    password of the warehouse: the connection has none, the mutator reads it at connect time."""
    secrets = {
        path.name: path.read_text().strip()
        for path in bi_stack.settings.secrets_dir.rglob("*")
        if path.is_file() and not path.name.endswith(".json")
    }
    for path in (bi_stack.settings.secrets_dir / "warehouse-listeners").glob("*.json"):
        secrets[path.name] = json.loads(path.read_text())["password"]
    assert len(secrets) > 10
    meta = psycopg2.connect(bi_stack.settings.superset_database_url)
    try:
        with meta.cursor() as cur:
            cur.execute("select password, sqlalchemy_uri from dbs")
            for password, uri in cur.fetchall():
                assert password is None and "@" in uri and ":" not in uri.split("@")[0].split("//")[1]
            cur.execute("select coalesce(string_agg(json, E'\\n'), '') from logs")
            log = cur.fetchone()[0]
    finally:
        meta.close()
    assert "/api/v1/security/users/" in log or "assets" in log  # the log is really there
    for name, value in secrets.items():
        assert value not in log, f"the action log holds {name}"
    environ = b"".join(bi_stack.superset_environments())
    assert environ
    owner = urlsplit(bi_stack.settings.database_url).password
    assert owner and owner.encode() not in environ
    assert b"TT_DBT_PASSWORD" not in environ and b"TRACKTRACKER_DATABASE_URL" not in environ
