"""Where a home's secrets must never be: every place but secrets/ — a file or log under the home (dbt's
target and logs included), a table of any of its server's databases (the warehouse's listening tables
aside, which hold only what exports and Spotify sent), a registry document, or the environment of a
server still running for it.

test_secrets_at_rest.py sweeps the home after everything else has run; with several pytest workers,
each worker's session sweeps its own home at its end as well (tests/conftest.py), since each worker has
a home of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from tracktracker_assets.settings import Settings, with_database

# the warehouse's listening tables hold only what exports and Spotify sent: scanning their millions of
# rows for secrets would cost the suite a minute and prove nothing
LISTENING = {"silver", "gold", "bronze.spotify_extended_history", "bronze.spotify_account_history"}

# set by test_secrets_at_rest.py in the session that ran it
SWEPT = pytest.StashKey[bool]()


@dataclass
class Sweep:
    secrets: dict[str, str]
    leaks: list[str] = field(default_factory=list)  # where a secret was found
    databases: list[str] = field(default_factory=list)
    documents: int = 0  # registry documents read
    servers: list[str] = field(default_factory=list)  # running servers of the home whose environment was read


def secrets_of(secrets_dir: Path) -> dict[str, str]:
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


def sweep(settings: Settings) -> Sweep:
    result = Sweep(secrets_of(settings.secrets_dir))
    needles = [v.encode() for v in result.secrets.values()]

    def holds_secret(data: bytes) -> bool:
        return any(needle in data for needle in needles)

    # dbt's target and logs are in the home, and PostgreSQL's files and WAL
    result.leaks += _files_holding(settings.home, settings.secrets_dir, list(result.secrets.values()))
    result.databases = _databases(settings.database_url)
    for database in result.databases:
        url = with_database(settings.database_url, database)
        result.leaks += [f"{database}: {t}" for t in _tables_holding(url, list(result.secrets.values()))]
    # the registry's documents (its files may be compressed on disk): tokens are encrypted there
    from pymongo import MongoClient

    client = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        registry = client[settings.mongo_db]
        documents = [
            doc for name in registry.list_collection_names() for doc in registry[name].find({}, {"_id": 0})
        ]
    finally:
        client.close()
    result.documents = len(documents)
    if holds_secret(json.dumps(documents, default=str).encode()):
        result.leaks.append("the registry's documents")
    for command, environ in _environments_of(settings.home):
        result.servers.append(command)
        if holds_secret(environ):
            result.leaks.append(f"the environment of {command}")
    return result


def _files_holding(root: Path, skip: Path, needles: list[str]) -> list[str]:
    """Every file under root (skip and symbolic links aside) holding a needle, by GNU grep: one pass
    over the gigabytes of a home whatever the number of secrets (a search per secret in Python cost
    the suite half a minute at the end of each worker's session). The needles go through a pipe, never
    to a file."""
    grep = shutil.which("grep")
    if grep is None:
        raise RuntimeError("the secrets sweep needs grep (GNU grep, in every Debian base image)")
    tops = sorted(str(p) for p in root.iterdir() if p != skip and not p.is_symlink())
    if not tops or not needles:
        return []
    assert all(needle and "\n" not in needle for needle in needles), "a needle is one non-empty line"
    # -r follows no symbolic link below the tops; -s: a file PostgreSQL removes meanwhile is no finding
    found = subprocess.run(
        [grep, "-rlFs", "--binary-files=text", "-f", "-", "--", *tops],
        input="\n".join(needles).encode(),
        capture_output=True,
        check=False,
    )
    if found.returncode > 1 and found.stderr.strip():  # 2 with -s and nothing said: a file vanished
        raise RuntimeError(f"grep failed ({found.returncode}): {found.stderr.decode(errors='replace')}")
    return sorted(found.stdout.decode(errors="replace").splitlines())


def _databases(url: str) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("select datname from pg_database where not datistemplate and datname <> 'postgres'")
            return sorted(name for (name,) in cur.fetchall())
    finally:
        conn.close()


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
