"""`tracktracker export`: a listener's takeout holds all of theirs and nothing of anyone else, in each
table format, and importing it as a listener of another install rebuilds the same gold.

Real exports (the session's real listeners): erin (account data, imported through the CLI, so files
are still kept as received) and mtas (extended history of audio and video).
"""

from __future__ import annotations

import csv
import io
import json
import stat
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import cli
from tests.shared_dimensions import HIDDEN
from tracktracker_assets.warehouse.db import query

# columns that name the listener or a load, not what they listened to
IDS = {"user_id", "_batch_load_id", "play_id", "session_id", "linked_rows", "load_id", "_loaded_at"}
COMPARED = [
    ("gold", "fct_plays"),
    ("gold", "agg_daily_listening"),
    ("gold", "rank_music"),
    ("gold", "agg_top_artists"),
    ("gold", "fct_sessions"),
    ("bronze", "spotify_extended_history"),
    ("bronze", "spotify_account_history"),
]


def _columns(settings, schema: str, table: str) -> str:
    _, rows = query(
        settings.database_url,
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position",
        (schema, table),
    )
    return ", ".join(name for (name,) in rows if name not in IDS)


def _difference(settings, schema: str, table: str, a: str, b: str) -> tuple[int, int, int]:
    """(rows of a, rows only in a, rows only in b), identifiers aside."""
    q = f"select {_columns(settings, schema, table)} from {schema}.{table} where user_id = %s"
    [(only_a, only_b, rows)] = query(
        settings.database_url,
        f"select (select count(*) from (({q}) except all ({q})) x), "
        f"(select count(*) from (({q}) except all ({q})) y), (select count(*) from ({q}) z)",
        (a, b, b, a, a),
    )[1]
    return rows, only_a, only_b


def _read(zf: zipfile.ZipFile, member: str) -> list[dict]:
    if member.endswith(".csv"):
        return list(csv.DictReader(io.TextIOWrapper(zf.open(member), "utf-8")))
    if member.endswith(".jsonl"):
        return [json.loads(line) for line in zf.read(member).splitlines()]
    return pq.read_table(io.BytesIO(zf.read(member))).to_pylist()


@pytest.mark.parametrize(("user", "fmt"), [("erin", "csv"), ("mtas", "json"), ("mtas", "parquet")])
def test_takeout_holds_all_of_theirs_and_nothing_else(real_gold, tmp_path: Path, user: str, fmt: str) -> None:
    out = tmp_path / f"{user}.zip"
    code, output = cli("export", user, "--format", fmt, "--output", str(out))
    assert code == 0, output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("tracktracker-takeout.json"))
        assert manifest["kind"] == "tracktracker-takeout" and manifest["user_id"] == user
        assert "README.txt" in zf.namelist()
        for name, entry in manifest["tables"].items():
            schema, table = name.split(".")
            rows = _read(zf, entry["member"])
            assert len(rows) == entry["rows"], name
            if table.startswith("dim_") and table != "dim_user":
                key = {"dim_track": "track_key", "dim_artist": "artist_key", "dim_album": "album_key"}[table]
                # only what a listener may read of a shared dimension: nothing of what others did
                assert rows and not set(rows[0]) & HIDDEN[table], name
                [(expected,)] = query(
                    real_gold.database_url,
                    f"select count(distinct {key}) from gold.fct_plays where user_id = %s and {key} in "
                    f"(select {key} from gold.{table})",
                    (user,),
                )[1]
            else:
                mine = f"select count(*) from {schema}.{table} where user_id = %s"
                [(expected,)] = query(real_gold.database_url, mine, (user,))[1]
                assert {r["user_id"] for r in rows} <= {user}, f"{name} holds another listener's rows"
            assert entry["rows"] == expected, name
        assert manifest["tables"]["gold.fct_plays"]["rows"] > 500
        assert not any(t.startswith("gold.global_") for t in manifest["tables"])
        # the history files hold every Spotify record of theirs
        members = [f["member"] for f in manifest["files"]]
        history = [json.loads(zf.read(m)) for m in members if m.startswith("history/")]
        [(spotify_rows,)] = query(
            real_gold.database_url,
            "select (select count(*) from bronze.spotify_extended_history where user_id = %(u)s) "
            "+ (select count(*) from bronze.spotify_account_history where user_id = %(u)s)",
            {"u": user},
        )[1]
        assert sum(map(len, history)) == spotify_rows
        kept = [f for f in manifest["files"] if f["member"].startswith("received/")]
        if user == "erin":  # imported through the CLI: her files are still kept, byte for byte
            assert kept and all(len(zf.read(f["member"])) == f["bytes"] for f in kept)


@pytest.fixture
def returning(real_gold):
    """A listener of "another install" importing a takeout; erased again after the test."""
    yield "takeout-again"
    cli("users", "remove", "takeout-again", "--yes")


@pytest.mark.parametrize("user", ["erin", "mtas"])
def test_takeout_imported_elsewhere_rebuilds_the_same_gold(
    real_gold, returning, tmp_path: Path, user: str
) -> None:
    out = tmp_path / "takeout.zip"
    assert cli("export", user, "--output", str(out))[0] == 0
    zone = "select timezone from gold.dim_user where user_id = %s"
    [(tz,)] = query(real_gold.database_url, zone, (user,))[1]
    code, output = cli("users", "add", returning, "--timezone", tz)
    assert code == 0, output
    code, output = cli("import", returning, str(out))
    assert code == 0, output
    assert "which its history/ files rebuild" in output, output
    for schema, table in COMPARED:
        rows, only_original, only_again = _difference(real_gold, schema, table, user, returning)
        assert (only_original, only_again) == (0, 0), f"{schema}.{table}: {rows} rows"
    assert _difference(real_gold, "gold", "fct_plays", user, returning)[0] > 500


def test_export_of_an_unknown_listener_says_so(real_gold, tmp_path: Path) -> None:
    code, output = cli("export", "nobody-here", "--output", str(tmp_path / "x.zip"))
    assert code == 1 and "nobody-here" in output
    assert not (tmp_path / "x.zip").exists()
