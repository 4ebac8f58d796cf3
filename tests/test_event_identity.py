"""What identifies one listening event is written once (dbt's `event_identity` var), and the three
users of it agree: the loader's cross-load dedupe, the staging models' play_id and the
reconciliation check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tracktracker_assets.exports.formats import ACCOUNT, EXTENDED
from tracktracker_assets.exports.loader import EVENT_KEY
from tracktracker_assets.transform.checks import RECONCILE_SQL
from tracktracker_assets.transform.project import DBT_PROJECT_DIR, run_dbt
from tracktracker_assets.warehouse.db import connect, query

PROBE_USER = "identity-probe"
STAGING = {
    EXTENDED.table: "stg_spotify__extended_history",
    ACCOUNT.table: "stg_spotify__account_history",
}


def project_identity() -> dict[str, list[str]]:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["event_identity"]


def test_the_loader_dedupes_by_the_dbt_var() -> None:
    identity = project_identity()
    for fmt in (EXTENDED, ACCOUNT):
        table = fmt.table.removeprefix("bronze.")
        assert EVENT_KEY[fmt.name] == tuple(identity[table])
        # the loader joins on the end time and ms_played (the first two)
        assert identity[table][1] == "ms_played"


def test_identity_columns_are_bronze_columns(real_gold) -> None:
    for table, columns in project_identity().items():
        present = {
            r[0]
            for r in query(
                real_gold.database_url,
                "select column_name from information_schema.columns "
                "where table_schema = 'bronze' and table_name = %s",
                (table,),
            )[1]
        }
        assert set(columns) <= present, (table, set(columns) - present)


def _compiled(settings, model: str, target: Path) -> str:
    """The model's SQL as dbt compiles it now (incremental: it reads only loads above its watermark)."""
    run_dbt(settings, ["compile", "--select", model, "--target-path", str(target)])
    [path] = list((target / "compiled").rglob(f"{model}.sql"))
    return path.read_text()


def _changed(column: str, data_type: str) -> str:
    """An expression giving the column a value other than its own (null included)."""
    if data_type == "text":
        return f"coalesce({column}, '') || '~'"
    if data_type in ("bigint", "integer"):
        return f"coalesce({column}, 0) + 1"
    if data_type == "boolean":
        return f"not coalesce({column}, false)"
    if data_type.startswith("timestamp"):
        return f"{column} + interval '1 second'"
    if data_type == "jsonb":
        return "'{\"probe\": 1}'::jsonb"
    raise AssertionError(f"no way to change a {data_type} column ({column})")


@pytest.mark.parametrize("table", [EXTENDED.table, ACCOUNT.table])
def test_play_id_follows_exactly_the_identity_columns(real_gold, table: str, tmp_path: Path) -> None:
    """A dbt-built play_id changes when any identity column changes, and not when any other does."""
    identity = set(project_identity()[table.removeprefix("bronze.")])
    model_sql = _compiled(real_gold, STAGING[table], tmp_path).replace("%", "%%")  # a psycopg2 query
    conn = connect(real_gold.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'bronze' and table_name = %s and column_name not in "
                "('user_id', 'load_id') order by ordinal_position",
                (table.removeprefix("bronze."),),
            )
            columns = cur.fetchall()
            # above the model's watermark, so the compiled (incremental) SQL reads only the probe
            cur.execute("select nextval('bronze.load_id_seq')")
            load_id = cur.fetchone()[0]
            names = ", ".join(c for c, _ in columns)

            def play_id_of(changed: str | None) -> str:
                values = ", ".join(_changed(c, t) if c == changed else c for c, t in columns)
                cur.execute("savepoint probe")
                cur.execute(
                    f"insert into {table} (user_id, load_id, {names}) "
                    f"select %s, %s, {values} from {table} "
                    "where user_id <> %s order by load_id, ms_played limit 1",
                    (PROBE_USER, load_id, PROBE_USER),
                )
                assert cur.rowcount == 1
                cur.execute(f"select play_id from ({model_sql}) as s where user_id = %s", (PROBE_USER,))
                rows = cur.fetchall()
                cur.execute("rollback to savepoint probe")
                assert len(rows) == 1, rows
                return rows[0][0]

            base = play_id_of(None)
            assert play_id_of(None) == base  # deterministic
            for column, _ in columns:
                assert (play_id_of(column) != base) == (column in identity), column
    finally:
        conn.rollback()
        conn.close()


def test_the_check_counts_the_events_silver_holds(level_gold) -> None:
    url = level_gold.database_url
    rows = query(url, RECONCILE_SQL)[1]
    assert rows
    for user_id, bronze_events, silver_extended, silver_events, gold_events in rows:
        assert bronze_events == silver_extended, user_id
        assert silver_events == gold_events, user_id
    # and the check's count is the staging model's, user by user
    staged = dict(
        query(
            url,
            "select user_id, count(distinct play_id) from silver.stg_spotify__extended_history group by 1",
        )[1]
    )
    assert {r[0]: r[1] for r in rows if r[1]} == staged
