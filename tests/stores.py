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
    alternatives = "|".join(re.escape(n) for n in sorted(_spellings(needles), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])".encode(), re.IGNORECASE)


def _spellings(needles: list[str]) -> set[str]:
    """Each needle as written and as JSON writes it inside a string."""
    return {spelled for needle in needles for spelled in (needle, json.dumps(needle)[1:-1])}


def _pg_pattern(needles: list[str]) -> str:
    alternatives = "|".join(re.escape(n) for n in sorted(_spellings(needles), key=len, reverse=True))
    return f"(^|[^[:alnum:]_-])({alternatives})([^[:alnum:]_-]|$)"


def _like_patterns(needles: list[str]) -> list[str]:
    """Case-folded LIKE patterns: a row the word regex can match contains one of them."""
    escaped = (
        n.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for n in _spellings(needles)
    )
    return sorted({f"%{n}%" for n in escaped})


def database_traces(url: str, needles: list[str], label: str, *, first: bool = False) -> list[str]:
    """Tables of a PostgreSQL database with rows naming a needle (every user schema); with `first`, only
    the first such table found."""
    try:
        conn = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return []
    found = []
    regex, likes = _pg_pattern(needles), _like_patterns(needles)
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
                # each row as text once; the word regex (slow: a row of gold costs ~10 us) only on rows
                # that a case-folded LIKE finds a needle in (the CASE keeps PostgreSQL from running the
                # cheaper-looking regex first)
                rows = (
                    f'from (select t::text as row from "{schema}"."{table}" t offset 0) r '
                    "where case when lower(r.row) like any(%s) then r.row ~* %s else false end"
                )
                if first:
                    cur.execute(f"select 1 {rows} limit 1", (likes, regex))
                    if cur.fetchone():
                        return [f"{label}: {schema}.{table}"]
                    continue
                cur.execute(f"select count(*) {rows}", (likes, regex))
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


def traces(settings, needles: list[str], *, first: bool = False) -> list[str]:
    """Every place a needle is found (empty: the listener is gone from every store); with `first`, the
    first place found (a check that the needles find the listener at all, before an erasure)."""
    searches = (
        lambda: database_traces(settings.database_url, needles, "warehouse", first=first),
        lambda: database_traces(settings.dagster_database_url, needles, "dagster", first=first),
        lambda: database_traces(settings.superset_database_url, needles, "superset", first=first),
        lambda: registry_traces(settings.mongo_url, settings.mongo_db, needles),
        lambda: file_traces(settings.home, needles, skip=SERVER_STORAGE),  # dbt's target and logs too
    )
    found: list[str] = []
    for search in searches:
        found += search()
        if first and found:
            return found[:1]
    return found
