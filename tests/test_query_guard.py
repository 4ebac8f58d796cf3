"""The pure parts of Superset's hooks (tracktracker_assets/dashboards/mutators.py) and of the warehouse's
access control, without services: what a listener's SQL may be, what the action log keeps, how a
password becomes a SCRAM verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tracktracker_assets.dashboards.mutators import REDACTED, scrub, statement_problem
from tracktracker_assets.warehouse.access import scram_verifier

ALLOWED = [
    "select distinct user_id from gold.fct_plays",
    "with x as (select * from gold.fct_plays) select count(*) from x",
    "select 1 union select 2",
    "select f.*, t.track_name from gold.fct_plays as f join gold.dim_track as t using (track_key)",
    "select count(*) from gold.dim_artist",
    "with a as (select artist_key, artist_name from gold.dim_artist) select * from a",
    "select * from (select album_name from gold.dim_album) as d",
    "select * from (select * from gold.fct_plays) as s",
    "select * from gold.fct_plays tablesample system (50)",
    "select json_agg(user_id), xmlagg(xmlelement(name u, user_id)) from gold.fct_plays",
    "with recursive r (n) as (select 1 union all select n + 1 from r where n < 3) select * from r",
    "select * from generate_series(1, 3)",
    "select distinct user_id from fct_plays",  # SQL Lab with the gold schema picked
    "SELECT DATE_TRUNC('week', ended_at) AS ended_at, count(*) FROM gold.fct_plays GROUP BY 1 LIMIT 1000",
]
REFUSED = {
    "set statement_timeout = 0": "not SET",
    "reset all": "not RESET",
    "set session authorization default": "not SET",
    "prepare q as select * from gold.dim_user": "not PREPARE",
    "execute q": "not EXECUTE",
    "do $$ begin perform 1; end $$": "not DO",
    "declare c cursor for select * from gold.fct_plays": "not DECLARE",
    "fetch all from c": "not FETCH",
    "explain analyze select * from gold.fct_plays": "not EXPLAIN",
    "copy (select 1) to stdout": "not COPY",
    "begin": "not",
    "listen x": "not LISTEN",
    "values (1)": "not VALUES",
    "show all": "not SHOW",
    "table gold.fct_plays": "could not be read",
    "select * into mine from gold.fct_plays": "no INTO",
    "select * from gold.fct_plays for update": "FOR UPDATE",
    "with d as (delete from gold.fct_plays returning *) select * from d": "nothing can be changed",
    "select * from ts_stat('select 1')": "ts_stat",
    "select query_to_xml('select 1', true, false, '')": "query_to_xml",
    "select pg_catalog.set_config('a', 'b', false)": "set_config",
    "select \"set_config\"('a', 'b', false)": "set_config",
    "select current_user": "current_user",
    "select version(), inet_server_port()": "inet_server_port, version",
    "select pg_advisory_lock(1)": "pg_advisory_lock",
    "select lo_import('/etc/passwd')": "lo_import",
    "select * from pg_stat_activity": "pg_stat_activity",
    "select (select count(*) from pg_roles)": "pg_roles",
    "select * from information_schema.tables": "information_schema.tables",
    "select * from silver.int_plays__deduplicated": "silver.int_plays__deduplicated",
    "select 1; set role tt_listeners": "not SET",
    # a shared dimension's columns that tell of other listeners are not theirs (PostgreSQL refuses them)
    "select * from gold.fct_plays as f join gold.dim_track as t using (track_key)": "gold.dim_track: name",
    "select * from dim_artist": "gold.dim_artist: name the columns",
    "select d.*, f.ended_at from gold.dim_album as d join gold.fct_plays using (album_key)": "gold.dim_album",
    "select x from (select * from gold.dim_artist) as s": "gold.dim_artist",
}


@pytest.mark.parametrize("sql", ALLOWED)
def test_plain_queries_on_gold_may_run(sql: str) -> None:
    assert statement_problem(sql, listener=True) is None


@pytest.mark.parametrize(("sql", "reason"), REFUSED.items())
def test_a_listener_may_not_run(sql: str, reason: str) -> None:
    problem = statement_problem(sql, listener=True)
    assert problem is not None and reason in problem, problem


def test_the_admin_is_held_to_the_function_list_only() -> None:
    assert statement_problem("explain select 1", listener=False) is None
    assert statement_problem("select * from pg_stat_activity", listener=False) is None
    assert "pg_sleep" in (statement_problem("select pg_sleep(1)", listener=False) or "")


def test_the_action_log_keeps_no_secret() -> None:
    payload = [
        {
            "path": "/api/v1/assets/import/",
            "passwords": '{"databases/x.yaml": "hunter2"}',
            "form": {"username": "alice", "password": "s3cret", "nested": [{"access_token": "t"}]},
            "json": '{"sqlalchemy_uri": "postgresql://u:p@h/d", "name": "x"}',
            "note": "{not json",
        }
    ]
    scrubbed = scrub(payload)
    text = repr(scrubbed)
    for secret in ("hunter2", "s3cret", "u:p@h"):
        assert secret not in text
    assert scrubbed[0]["passwords"] == REDACTED and scrubbed[0]["form"]["username"] == "alice"
    assert scrubbed[0]["form"]["nested"] == [{"access_token": REDACTED}]
    assert scrubbed[0]["note"] == "{not json"


def test_scram_verifier_is_what_postgresql_checks() -> None:
    """RFC 5802 / 7677: the server stores StoredKey and ServerKey; the client proves the password."""
    verifier = scram_verifier("correct horse", iterations=4096)
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    assert method == "SCRAM-SHA-256" and iterations == "4096"
    salted = hashlib.pbkdf2_hmac("sha256", b"correct horse", base64.b64decode(salt), 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    assert hashlib.sha256(client_key).digest() == stored_key
    assert hmac.new(salted, b"Server Key", "sha256").digest() == server_key
    assert "correct horse" not in verifier
    assert scram_verifier("correct horse") != verifier  # a fresh salt every time
