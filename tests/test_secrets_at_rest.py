"""After everything else has run (imports, pulls, Superset, dashboards, erasures): no secret of the
session's TRACKTRACKER_HOME is anywhere but under secrets/ — not in a file or log under the home or
dbt's target, not in a table of Superset's or Dagster's databases, nor of the warehouse (its listening
tables aside, which hold only what exports and Spotify sent)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.last]


def _secrets(secrets_dir: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in secrets_dir.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text().strip()
        if path.suffix == ".json":
            found[str(path)] = json.loads(text)["password"]
        elif len(text) >= 16:
            found[str(path)] = text
    return found


def _files(root: Path, skip: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and skip not in p.parents and not p.is_symlink()]


# the warehouse's listening tables hold only what exports and Spotify sent: scanning their millions of
# rows for secrets would cost the suite a minute and prove nothing
LISTENING = {"silver", "gold", "bronze.spotify_extended_history", "bronze.spotify_account_history"}


def _tables_holding(url: str, needles: list[str]) -> list[str]:
    """schema.table of every table of the database whose rows, as text, contain a needle."""
    hits = []
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')"
            )
            for schema, table in cur.fetchall():
                if schema in LISTENING or f"{schema}.{table}" in LISTENING:
                    continue
                cur.execute(
                    sql.SQL("select count(*) from {}.{} as t where t::text like any(%s)").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    ),
                    ([f"%{n}%" for n in needles],),
                )
                if cur.fetchone()[0]:
                    hits.append(f"{schema}.{table}")
    finally:
        conn.close()
    return hits


def test_no_secret_outside_secrets(real_gold) -> None:
    settings = real_gold
    secrets = _secrets(settings.secrets_dir)
    assert len(secrets) >= 3, secrets.keys()  # postgres, token key, listeners' logins at least
    needles = [v.encode() for v in secrets.values()]

    def holds_secret(data: bytes) -> bool:
        # one substring search per secret: several times faster than one regex alternation over the
        # gigabytes of the home (PostgreSQL's files and WAL included)
        return any(needle in data for needle in needles)

    leaks = []
    places = _files(settings.home, settings.secrets_dir) + _files(
        REPO / "dbt" / "target", Path("/nonexistent")
    )
    for path in places:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if holds_secret(data):
            leaks.append(str(path))
    assert leaks == [], leaks
    from tracktracker_assets.settings import with_database

    for database in ("dagster", "superset", "tracktracker"):
        url = with_database(settings.database_url, database)
        assert _tables_holding(url, list(secrets.values())) == [], database
    # the registry's documents (its files may be compressed on disk): tokens are encrypted there
    from pymongo import MongoClient

    client = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        database = client[settings.mongo_db]
        documents = [
            doc for name in database.list_collection_names() for doc in database[name].find({}, {"_id": 0})
        ]
    finally:
        client.close()
    assert documents
    assert not holds_secret(json.dumps(documents, default=str).encode())
    # the servers still running for this home (PostgreSQL, the registry) were given no secret
    environments = _environments_of(settings.home)
    assert environments, "no server of this home found"
    for command, environ in environments:
        assert not holds_secret(environ), command


def _environments_of(home: Path) -> list[tuple[str, bytes]]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(home) in command:
            found.append((command[:120], environ))
    return found
