"""The erasure tests' sweep (tests/stores.py) finds what it must: a needle as a whole word in any case,
in any column, whatever LIKE's wildcards it holds, and nothing that only contains a needle."""

from __future__ import annotations

import pytest
from psycopg2.extensions import make_dsn

from tests.stores import database_traces
from tracktracker_assets.warehouse.db import connect


@pytest.fixture
def haystack(settings):
    """A database of its own (the sweep reads every table of the database it is given)."""
    admin = connect(settings.database_url, autocommit=True)
    with admin.cursor() as cur:
        cur.execute("drop database if exists sweep_check")
        cur.execute("create database sweep_check")
    url = make_dsn(settings.database_url, dbname="sweep_check")
    conn = connect(url, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("create schema sweep_check")
        cur.execute("create table sweep_check.quiet (id int, note text)")
        cur.execute("create table sweep_check.loud (id int, note text, at timestamptz)")
        cur.execute(
            "insert into sweep_check.quiet values (1, 'Sweep_Check_History_2023_json'),"
            " (2, 'an upleaver here'), (3, 'Leaves-Soon'), (4, 'leaver-x')"
        )
        cur.execute(
            "insert into sweep_check.loud values (1, 'said LEAVER once', null), (2, 'nothing', null),"
            " (3, 'a file: Sweep_Check_History_2023.json.', null),"
            " (4, 'x', '2021-03-04 05:06:07+00')"
        )
    conn.close()
    try:
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute("drop database sweep_check")
        admin.close()


def test_the_sweep_finds_whole_words_in_any_case_and_column(haystack: str) -> None:
    needles = ["leaver", "Sweep_Check_History_2023.json", "2021-03-04 05:06:07"]
    found = database_traces(haystack, needles, "warehouse")
    # loud: the word in capitals, the file name, the timestamp as a row prints it; quiet: only longer
    # words (a letter, '_' or '-' beside the needle), or the file name with a '_' where its '.' is
    assert found == ["warehouse: sweep_check.loud (3 rows)"]
    first = database_traces(haystack, ["Sweep_Check_History_2023.json"], "warehouse", first=True)
    assert first == ["warehouse: sweep_check.loud"]
    assert database_traces(haystack, ["Sweep%History"], "warehouse") == []
