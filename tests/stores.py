"""Every store a listener's data can reach, searched for traces of them (the erasure tests use it).

Stores: every schema of the warehouse, every table of Dagster's and Superset's databases, every
collection of the registry, every file under TRACKTRACKER_HOME (names and contents; the database
servers' own storage directories are searched through the servers instead) and dbt's target and log
directories. A trace is any of the needles (user id, display name, a few play timestamps, file
names) as a whole word, case-insensitively.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import psycopg2
from bson import json_util

SERVER_STORAGE = ("postgres", "mongo")


def word_pattern(needles: list[str]) -> re.Pattern[bytes]:
    spelled = set()
    for needle in needles:
        spelled.add(needle)
        spelled.add(json.dumps(needle)[1:-1])
    alternatives = "|".join(re.escape(n) for n in sorted(spelled, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])".encode(), re.IGNORECASE)


def _pg_pattern(needles: list[str]) -> str:
    spelled = set()
    for needle in needles:
        spelled.add(needle)
        spelled.add(json.dumps(needle)[1:-1])
    alternatives = "|".join(re.escape(n) for n in sorted(spelled, key=len, reverse=True))
    return f"(^|[^[:alnum:]_-])({alternatives})([^[:alnum:]_-]|$)"


def database_traces(url: str, needles: list[str], label: str) -> list[str]:
    """Tables of a PostgreSQL database with rows naming a needle (every user schema)."""
    try:
        conn = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return []
    found = []
    regex = _pg_pattern(needles)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' "
                "and table_schema not in ('pg_catalog', 'information_schema')"
            )
            for schema, table in cur.fetchall():
                if (schema, table) == ("public", "snapshots"):  # compressed code snapshots (bytea)
                    continue
                cur.execute(f'select count(*) from "{schema}"."{table}" t where t::text ~* %s', (regex,))
                count = cur.fetchone()[0]
                if count:
                    found.append(f"{label}: {schema}.{table} ({count} rows)")
    finally:
        conn.close()
    return found


def registry_traces(mongo_url: str, database: str, needles: list[str]) -> list[str]:
    from pymongo import MongoClient

    pattern = word_pattern(needles)
    client = MongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    found = []
    try:
        db = client[database]
        for name in db.list_collection_names():
            hits = sum(1 for doc in db[name].find() if pattern.search(json_util.dumps(doc).encode()))
            if hits:
                found.append(f"registry: {name} ({hits} documents)")
    finally:
        client.close()
    return found


def file_traces(root: Path, needles: list[str], *, skip: tuple[str, ...] = ()) -> list[str]:
    pattern = word_pattern(needles)
    found = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in [*dirnames, *filenames]:
            if pattern.search(name.encode()):
                found.append(f"path: {here / name}")
        for name in filenames:
            path = here / name
            try:
                # Only regular files: opening a FIFO (dbt's, Dagster's compute-log pipes) blocks forever.
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            match = pattern.search(data)
            if match:
                start = max(0, match.start() - 60)
                found.append(f"file: {path}: …{data[start : match.end() + 60]!r}…")
    return found


def traces(settings, needles: list[str]) -> list[str]:
    """Every place a needle is found (empty: the listener is gone from every store)."""
    found = database_traces(settings.database_url, needles, "warehouse")
    found += database_traces(settings.dagster_database_url, needles, "dagster")
    found += database_traces(settings.superset_database_url, needles, "superset")
    found += registry_traces(settings.mongo_url, settings.mongo_db, needles)
    found += file_traces(settings.home, needles, skip=SERVER_STORAGE)  # dbt's target and logs too
    return found
