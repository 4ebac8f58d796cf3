"""Superset over HTTP against real PostgreSQL: chart figures, row-level security, SQL Lab, provisioning."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest

from tracktracker_assets.bi import provision, service
from tracktracker_assets.bi.client import SupersetClient, SupersetError

from .conftest import LISTENERS, OTHERS, SCRATCH_DB, BIStack

pytestmark = pytest.mark.slow
ALL_USERS = sorted([*LISTENERS, *OTHERS])
WEEKDAYS = {1: "1 Mon", 2: "2 Tue", 3: "3 Wed", 4: "4 Thu", 5: "5 Fri", 6: "6 Sat", 7: "7 Sun"}


def _user_filter(user: str | None, column: str = "user_id") -> tuple[str, tuple]:
    return (f"where {column} = %s", (user,)) if user else ("", ())


def _num(value: object) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else float(str(value))


# ---- what each chart must show, straight from gold -----------------------------------------------
def expect_minutes_per_day(stack: BIStack, user: str | None, rows: list[dict]) -> None:
    where, params = _user_filter(user)
    expected = dict(
        stack.query(
            f"select local_date, sum(minutes_played) from gold.agg_daily_listening {where} group by 1", params
        )
    )
    got = {
        datetime.fromtimestamp(row["local_date"] / 1000, UTC).date(): row["minutes_played"] for row in rows
    }
    assert got.keys() == expected.keys()
    for day, minutes in expected.items():
        assert got[day] == pytest.approx(_num(minutes), abs=1e-6), day


def expect_top_artists(stack: BIStack, user: str | None, rows: list[dict]) -> None:
    where, params = _user_filter(user, "f.user_id")
    counts = dict(
        stack.query(
            "select a.artist_name, count(*) filter (where f.is_counted_play) from gold.fct_plays f "
            f"join gold.dim_artist a on a.artist_key = f.artist_key {where} group by 1",
            params,
        )
    )
    top = sorted(counts.values(), reverse=True)[:10]
    assert [row["counted_plays"] for row in rows] == top
    for row in rows:  # names agree too (ties at the cut may pick either artist)
        assert counts[row["artist_name"]] == row["counted_plays"]


def expect_hour_weekday(stack: BIStack, user: str | None, rows: list[dict]) -> None:
    """The full 24 x 7 grid: cells without listening are 0, not missing."""
    where, params = _user_filter(user)
    expected = {(f"{hour:02d}", label): 0.0 for hour in range(24) for label in WEEKDAYS.values()}
    for weekday, hour, minutes in stack.query(
        "select local_weekday, local_hour, sum(minutes_played) "
        f"from gold.agg_hour_weekday {where} group by 1, 2",
        params,
    ):
        expected[(f"{hour:02d}", WEEKDAYS[weekday])] = _num(minutes)
    got = {(row["hour"], row["weekday"]): row["minutes_played"] for row in rows}
    assert got.keys() == expected.keys()
    for cell, minutes in expected.items():
        assert _num(got[cell]) == pytest.approx(minutes, abs=1e-6), cell


def expect_total_plays(stack: BIStack, user: str | None, rows: list[dict]) -> None:
    where, params = _user_filter(user)
    ((expected,),) = stack.query(
        f"select count(*) filter (where is_counted_play) from gold.fct_plays {where}", params
    )
    assert rows == [{"counted_plays": expected}]


EXPECTATIONS: dict[str, Callable[[BIStack, str | None, list[dict]], None]] = {
    "Minutes listened per day": expect_minutes_per_day,
    "Top artists": expect_top_artists,
    "Minutes by hour and weekday": expect_hour_weekday,
    "Total plays": expect_total_plays,
}


# ---- the service ---------------------------------------------------------------------------------
def test_service_restarts_fast_and_keeps_secrets_private(bi_stack: BIStack) -> None:
    settings = bi_stack.settings
    timings = bi_stack.start_seconds
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    (out / "superset-timings.json").write_text(json.dumps(timings, indent=2))
    print(f"Superset start-up: first {timings['first start']:.1f} s, later {timings['later start']:.1f} s")
    assert timings["later start"] < timings["first start"]
    assert service.start(settings) == bi_stack.url  # already running: a no-op
    assert service.is_running(settings)
    secrets = [
        "superset-secret-key",
        "superset-admin-password",
        "superset-reader-password",
        *(f"superset-listeners/{user}" for user in LISTENERS),
    ]
    for name in secrets:
        mode = stat.S_IMODE((settings.secrets_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    log = service.log_file(settings).read_text()
    for name in secrets:  # never logged
        assert (settings.secrets_dir / name).read_text().strip() not in log


# ---- charts --------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["admin", *LISTENERS])
def test_every_chart_matches_gold(bi_stack: BIStack, who: str) -> None:
    client = bi_stack.admin() if who == "admin" else bi_stack.listener(who)
    user = None if who == "admin" else who
    assert set(bi_stack.provisioned.charts) == set(EXPECTATIONS), "add an expectation for each new chart"
    for name, chart_id in bi_stack.provisioned.charts.items():
        (result,) = client.saved_chart_data(chart_id)
        assert result["status"] == "success", result
        assert result["rowcount"] > 0, f"{name} is empty for {who}"
        EXPECTATIONS[name](bi_stack, user, result["data"])


def test_listeners_get_different_figures(bi_stack: BIStack) -> None:
    chart_id = bi_stack.provisioned.charts["Total plays"]
    totals = {user: bi_stack.listener(user).saved_chart_data(chart_id)[0]["data"][0] for user in LISTENERS}
    everyone = bi_stack.admin().saved_chart_data(chart_id)[0]["data"][0]["counted_plays"]
    assert len({t["counted_plays"] for t in totals.values()}) == len(LISTENERS)
    assert (
        sum(t["counted_plays"] for t in totals.values()) < everyone
    )  # carol is in gold, seen by no listener


# ---- SQL Lab -------------------------------------------------------------------------------------
def _sql_rows(
    client: SupersetClient, database_id: int, statement: str, schema: str | None = None
) -> list[dict]:
    return client.sql(database_id, statement, schema=schema)["data"]


@pytest.mark.parametrize("user", list(LISTENERS))
def test_sql_lab_shows_a_listener_only_their_rows(bi_stack: BIStack, user: str) -> None:
    client, db = bi_stack.listener(user), bi_stack.provisioned.database_id
    assert _sql_rows(client, db, "select distinct user_id from gold.fct_plays") == [{"user_id": user}]
    for table in ("agg_daily_listening", "agg_hour_weekday", "dim_user"):
        assert _sql_rows(client, db, f"select distinct user_id from gold.{table}") == [{"user_id": user}]
    # the schema picked in SQL Lab's UI makes unqualified names work, and still filtered
    assert _sql_rows(client, db, "select distinct user_id from fct_plays", schema="gold") == [
        {"user_id": user}
    ]
    # shared dimensions are readable
    assert _sql_rows(client, db, "select count(*) as n from gold.dim_artist") == [{"n": 12}]


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
    ("select distinct user_id from silver.plays", None),
    ("select * from public.secrets", None),
]


@pytest.mark.parametrize(("statement", "schema"), BYPASS_ATTEMPTS)
def test_sql_lab_tricks_do_not_reveal_other_listeners(
    bi_stack: BIStack, statement: str, schema: str | None
) -> None:
    client, db = bi_stack.listener("alice"), bi_stack.provisioned.database_id
    try:
        rows = _sql_rows(client, db, statement, schema=schema)
    except SupersetError:
        return  # refused: fine
    text = json.dumps(rows)
    for other in ("bob", "carol", "do-not-leak", "superset_reader"):
        assert other not in text, f"{statement!r} revealed {other}"


@pytest.mark.parametrize(
    "statement",
    [
        "drop table gold.fct_plays",
        "insert into gold.dim_user values ('mallory', 'Mallory', 'UTC')",
        "update gold.fct_plays set user_id = 'alice'",
        "delete from gold.fct_plays",
        "create table gold.mine (x int)",
        "truncate gold.agg_daily_listening",
    ],
)
def test_sql_lab_refuses_writes(bi_stack: BIStack, statement: str) -> None:
    before = bi_stack.query(
        "select (select count(*) from gold.fct_plays), (select count(*) from gold.dim_user)"
    )
    for client in (bi_stack.listener("alice"), bi_stack.admin()):
        with pytest.raises(SupersetError) as refused:
            client.sql(bi_stack.provisioned.database_id, statement)
        assert refused.value.status in (400, 403, 422, 500)
    assert bi_stack.query("select to_regclass('gold.mine')") == [(None,)]
    after = bi_stack.query(
        "select (select count(*) from gold.fct_plays), (select count(*) from gold.dim_user)"
    )
    assert after == before


def test_admin_sees_every_listener(bi_stack: BIStack) -> None:
    rows = _sql_rows(
        bi_stack.admin(), bi_stack.provisioned.database_id, "select distinct user_id from gold.fct_plays"
    )
    assert sorted(row["user_id"] for row in rows) == ALL_USERS


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


# ---- provisioning --------------------------------------------------------------------------------
def _inventory(client: SupersetClient) -> dict[str, object]:
    listener = next(r for r in client.list("security/roles") if r["name"] == provision.LISTENER_ROLE)
    return {
        "databases": len(client.list("database", columns=["id"])),
        "datasets": len(client.list("dataset", columns=["id"])),
        "charts": sorted(c["slice_name"] for c in client.list("chart", columns=["id", "slice_name"])),
        "dashboards": len(client.list("dashboard", columns=["id"])),
        "rls": [(r["name"], sorted(t["id"] for t in r["tables"])) for r in client.list("rowlevelsecurity")],
        "users": len(client.list("security/users")),
        "listener permissions": len(
            client.get(f"/api/v1/security/roles/{listener['id']}/permissions/")["result"]
        ),
    }


def test_reprovisioning_changes_nothing(bi_stack: BIStack) -> None:
    admin = bi_stack.admin()
    before = _inventory(admin)
    again = provision.provision(bi_stack.settings, warehouse_url=bi_stack.warehouse_dsn)
    for user, (name, _) in LISTENERS.items():
        assert provision.ensure_listener(user, name, settings=bi_stack.settings) == bi_stack.passwords[user]
    after = _inventory(admin)
    assert after == before
    assert again == bi_stack.provisioned
    assert len(set(after["charts"])) == len(after["charts"]) == 4  # type: ignore[arg-type]
    dashboard_id = bi_stack.provisioned.dashboards["Listening history"]
    charts = admin.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
    assert sorted(c["slice_name"] for c in charts) == sorted(EXPECTATIONS)
    # every dataset with a user_id column is covered by the rule
    assert sorted(bi_stack.provisioned.per_user_datasets) == sorted(
        bi_stack.provisioned.datasets[t]
        for t in (
            "fct_plays",
            "dim_user",
            "agg_daily_listening",
            "agg_hour_weekday",
            "plays_by_artist",
            "hour_weekday_grid",
        )
    )


def test_import_failure_is_reported(bi_stack: BIStack, tmp_path: Path) -> None:
    bundle = provision.load_bundle()
    broken = {name: dict(config) for name, config in bundle.items()}
    chart = next(name for name in broken if name.startswith("charts/"))
    broken[chart]["dataset_uuid"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(SupersetError):
        provision.import_bundle(bi_stack.admin(), broken, bi_stack.warehouse_dsn, "unused")
    assert len(bi_stack.admin().list("chart", columns=["id"])) == 4


def test_removed_listener_cannot_log_in(bi_stack: BIStack) -> None:
    password = provision.ensure_listener("dave", "Dave", settings=bi_stack.settings)
    dave = SupersetClient(bi_stack.url, "dave", password)
    dave.sql(
        bi_stack.provisioned.database_id, "select count(*) from gold.fct_plays"
    )  # leaves SQL Lab history
    assert provision.remove_listener("dave", settings=bi_stack.settings)
    with pytest.raises(SupersetError) as refused:
        SupersetClient(bi_stack.url, "dave", password)
    assert refused.value.status == 401
    assert not (bi_stack.settings.secrets_dir / "superset-listeners" / "dave").exists()
    assert not provision.remove_listener("nobody", settings=bi_stack.settings)
    with pytest.raises(ValueError):
        provision.ensure_listener("x' or '1'='1", "Mallory", settings=bi_stack.settings)


# ---- the warehouse role --------------------------------------------------------------------------
def _as_reader(stack: BIStack, database: str | None = None) -> psycopg2.extensions.connection:
    port = stack.postgres.port
    return psycopg2.connect(
        host="127.0.0.1",
        port=port,
        user=provision.READER_ROLE,
        password=provision.reader_password(stack.settings),
        dbname=database or SCRATCH_DB,
    )


def test_reader_role_reads_gold_only(bi_stack: BIStack) -> None:
    conn = _as_reader(bi_stack)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from gold.fct_plays")
            assert cur.fetchone()[0] > 0
            for statement in (
                "select * from silver.plays",
                "select * from public.secrets",
                "insert into gold.dim_user values ('m', 'M', 'UTC')",
                "create table gold.mine (x int)",
                "create temporary table mine (x int)",
                "set default_transaction_read_only = off; delete from gold.dim_user",
            ):
                with pytest.raises(psycopg2.Error):
                    cur.execute(statement)
        # tables that dbt creates later in gold are readable through default privileges
        owner = psycopg2.connect(bi_stack.warehouse_dsn)
        with owner, owner.cursor() as cur:
            cur.execute(
                "create table gold.agg_new as select user_id, count(*) as n from gold.fct_plays group by 1"
            )
        owner.close()
        with conn.cursor() as cur:
            cur.execute("select count(*) from gold.agg_new")
            assert cur.fetchone()[0] == len(ALL_USERS)
    finally:
        conn.close()
        owner = psycopg2.connect(bi_stack.warehouse_dsn)
        with owner, owner.cursor() as cur:
            cur.execute("drop table if exists gold.agg_new")
        owner.close()
    meta = _as_reader(bi_stack, "superset")
    try:
        with meta.cursor() as cur, pytest.raises(psycopg2.Error):
            cur.execute("select password from ab_user")
    finally:
        meta.close()


def test_new_gold_table_without_dataset_is_closed_to_listeners(bi_stack: BIStack) -> None:
    """A gold table nobody described yet has no RLS rule: SQL Lab must refuse it, not show it whole."""
    owner = psycopg2.connect(bi_stack.warehouse_dsn)
    with owner, owner.cursor() as cur:
        cur.execute("create table gold.agg_unlisted as select distinct user_id from gold.fct_plays")
    owner.close()
    try:
        with pytest.raises(SupersetError):
            bi_stack.listener("alice").sql(
                bi_stack.provisioned.database_id, "select * from gold.agg_unlisted"
            )
    finally:
        owner = psycopg2.connect(bi_stack.warehouse_dsn)
        with owner, owner.cursor() as cur:
            cur.execute("drop table gold.agg_unlisted")
        owner.close()
