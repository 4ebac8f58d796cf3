"""Users through the CLI: mirrored to the warehouse and the partitions; removal erases every store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import REAL_DATA, cli
from tests.stores import traces
from tracktracker_assets.warehouse.db import query


def own_export(source: Path, folder: Path, name: str, shift: timedelta) -> Path:
    """A real export with every play moved by `shift`, under a name of its own: its plays, times and
    file name are this listener's alone (the session loads the original for another listener)."""
    rows = json.loads(source.read_text())
    for row in rows:
        moved = datetime.fromisoformat(row["ts"].replace("Z", "+00:00")) + shift
        row["ts"] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = folder / name
    path.write_text(json.dumps(rows))
    return path


def play_timestamps(url: str, user_id: str, count: int = 3) -> list[str]:
    """A few of the user's play times as PostgreSQL prints them (how a trace of them would look)."""
    rows = query(
        url,
        "select to_char(ts, 'YYYY-MM-DD HH24:MI:SS') from bronze.spotify_extended_history "
        "where user_id = %s order by ts desc limit %s",
        (user_id, count),
    )[1]
    return [r[0] for r in rows]


def test_remove_erases_the_user_from_every_store(real_gold, tmp_path: Path) -> None:
    settings = real_gold
    export = own_export(
        REAL_DATA / "spotify-extended" / "mtas0--Streaming_History_Audio_2023_2.json",
        tmp_path,
        "Streaming_History_Audio_leaver_2023.json",
        timedelta(days=1001, seconds=7),
    )
    from tracktracker_assets.orchestration.instance import get_instance

    assert "leaver" not in get_instance(settings).get_dynamic_partitions("users")
    code, output = cli("users", "add", "leaver", "--name", "Leaves Soon", "--timezone", "Pacific/Marquesas")
    assert code == 0, output
    # added as a row of Dagster's storage, without starting Dagster: the instance sees it. Not
    # necessarily last: the add also mirrors listeners other tests put straight into the registry.
    assert "leaver" in get_instance(settings).get_dynamic_partitions("users")
    code, output = cli("import", "leaver", str(export))
    assert code == 0, output
    url = settings.database_url
    assert query(url, "select count(*) from gold.fct_plays where user_id = 'leaver'")[1][0][0] > 500
    assert query(url, "select timezone from bronze.registry_users where user_id = 'leaver'")[1] == [
        ("Pacific/Marquesas",)
    ]
    others = query(url, "select count(*) from gold.fct_plays where user_id <> 'leaver'")[1]
    # a friendship with someone staying: it goes with the leaver, whichever side invited
    for command in (("invite", "leaver", "erin"), ("accept", "erin", "leaver")):
        code, output = cli("friends", *command)
        assert code == 0, output
    needles = ["leaver", "Leaves Soon", "Pacific/Marquesas", export.name, *play_timestamps(url, "leaver")]
    assert traces(settings, needles, first=True), "the needles find the user before the erasure"
    code, output = cli("users", "remove", "leaver", "--yes")
    assert code == 0 and "rows erased" in output, output
    assert traces(settings, needles) == []
    assert query(url, "select count(*) from gold.fct_plays where user_id <> 'leaver'")[1] == others
    code, output = cli("users", "list")
    assert "leaver" not in output
    assert "leaver" not in get_instance(settings).get_dynamic_partitions("users")
    code, output = cli("users", "remove", "leaver", "--yes")
    assert code == 1 and "Unknown user" in output


def test_set_says_what_it_changed_and_refuses_what_it_cannot(real_gold) -> None:
    url = real_gold.database_url
    code, output = cli("users", "set", "nobody-here", "--timezone", "UTC")
    assert code == 1 and "Unknown user 'nobody-here'" in output, output
    code, output = cli("users", "add", "renamed", "--name", "Old Name", "--timezone", "Europe/Oslo")
    assert code == 0, output
    try:
        code, output = cli("users", "set", "renamed")
        assert code == 1 and "Nothing to change: give --name or --timezone" in output, output
        code, output = cli("users", "set", "renamed", "--timezone", "Mars/Olympus_Mons")
        assert code == 1 and "Unknown time zone 'Mars/Olympus_Mons'" in output, output
        # a new name and the same zone: nothing to recompute, and no refresh is run for it
        code, output = cli("users", "set", "renamed", "--name", "New Name", "--timezone", "Europe/Oslo")
        assert code == 0, output
        assert "renamed is called New Name (was Old Name)" in output, output
        assert "time zone stays Europe/Oslo: nothing to recompute" in output, output
        assert "refreshed" not in output, output
        mirrored = "select display_name, timezone from bronze.registry_users where user_id = 'renamed'"
        assert query(url, mirrored)[1] == [("New Name", "Europe/Oslo")]
    finally:
        assert cli("users", "remove", "renamed", "--yes")[0] == 0


def test_sql_prints_csv_and_refuses_writes(real_gold) -> None:
    code, output = cli(
        "sql", "select user_id, count(*) as plays from gold.fct_plays where user_id = 'erin' group by 1"
    )
    assert code == 0
    assert output.splitlines()[0] == "user_id,plays" and output.splitlines()[1].startswith("erin,")
    code, output = cli("sql", "delete from gold.fct_plays")
    assert code == 1 and "read-only" in output
