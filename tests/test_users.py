"""Users through the CLI: mirrored to the warehouse and the partitions; removal erases everywhere."""

from __future__ import annotations

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.warehouse.db import query
from tracktracker_assets.warehouse.erase import tables_with_user_id


def test_remove_erases_the_user_from_every_layer(real_gold) -> None:
    settings = real_gold
    code, output = cli("users", "add", "leaver", "--name", "Leaves Soon", "--timezone", "Asia/Tokyo")
    assert code == 0, output
    code, output = cli(
        "import", "leaver", str(REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Audio_2023_2.json")
    )
    assert code == 0, output
    url = settings.database_url
    assert query(url, "select count(*) from gold.fct_plays where user_id = 'leaver'")[1][0][0] > 500
    assert query(url, "select timezone from bronze.registry_users where user_id = 'leaver'")[1] == [
        ("Asia/Tokyo",)
    ]
    code, output = cli("users", "remove", "leaver", "--yes")
    assert code == 0 and "rows erased" in output, output
    conn_tables = query(url, "select 1")  # noqa: F841 - connection sanity
    from tracktracker_assets.warehouse.db import connect

    conn = connect(url)
    try:
        for schema, table in tables_with_user_id(conn):
            with conn.cursor() as cur:
                cur.execute(f'select count(*) from "{schema}"."{table}" where user_id = %s', ("leaver",))
                assert cur.fetchone()[0] == 0, f"{schema}.{table} still holds leaver"
    finally:
        conn.close()
    code, output = cli("users", "list")
    assert "leaver" not in output
    from tracktracker_assets.instance import get_instance

    assert "leaver" not in get_instance(settings).get_dynamic_partitions("users")
    assert not (settings.archive_root / "leaver").exists()
    code, output = cli("users", "remove", "leaver", "--yes")
    assert code == 1 and "Unknown user" in output


def test_sql_prints_csv_and_refuses_writes(real_gold) -> None:
    code, output = cli(
        "sql", "select user_id, count(*) as plays from gold.fct_plays where user_id = 'erin' group by 1"
    )
    assert code == 0
    assert output.splitlines()[0] == "user_id,plays" and output.splitlines()[1].startswith("erin,")
    code, output = cli("sql", "delete from gold.fct_plays")
    assert code == 1 and "read-only" in output
