"""Who may read what in the warehouse, enforced by PostgreSQL itself.

Superset filters rows too, but SQL can get around a filter written into queries; these rules cannot be
got around by any SQL, because PostgreSQL applies them to every statement of a role:

- the owner (the role of TRACKTRACKER_DATABASE_URL) loads bronze and runs dbt; it owns every table.
- `superset_reader`: the admin's Superset queries; reads all of gold, nothing else.
- `tt_listeners` (no login): the group of the listeners' roles. It may read a gold relation only once
  dbt's post-hook (dbt/macros/row_security.sql) has put that relation's row-level-security policy in
  place, in the same transaction: a relation without a policy is not readable by listeners at all.
- one login role per listener, `tt_listener_<random>`, member of `tt_listeners` (inheriting its grants,
  never allowed to SET ROLE to it). Superset's connection mutator (dashboards/mutators.py) picks it for that
  listener's requests. Its name says nothing about the listener (role names are visible to everyone
  in pg_roles); tt_security.listener_roles maps it to the user id, and the SECURITY DEFINER function
  tt_security.listener_user_id() answers "whose session is this" for the policies without letting a
  listener read the mapping.

Per-role limits hold whatever a session does: statement and idle-in-transaction timeouts, a connection
limit, a temporary-file limit (superuser-only setting: a session cannot raise it). The timeouts are
user-settable in PostgreSQL; Superset refuses SET, set_config() and the like before they reach the
server (dashboards/mutators.py), and set_config is not executable by the listeners' roles at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg2 import sql

from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.locks import ACCESS_LOCK_KEY, ADVISORY_LOCK_FUNCTIONS, transaction_lock

LISTENER_GROUP = "tt_listeners"
READER_ROLE = "superset_reader"
ROLE_PREFIX = "tt_listener_"
SECURITY_SCHEMA = "tt_security"

# Server functions no listener (nor the admin's reader) may call in the warehouse: advisory locks would
# let a query block every load and refresh (they take global advisory locks); set_config changes the
# session's limits; sleeping holds a connection for nothing.
RESTRICTED_FUNCTIONS = (
    *ADVISORY_LOCK_FUNCTIONS,
    "set_config(text, text, boolean)",
    "pg_sleep(double precision)",
    "pg_sleep_for(interval)",
    "pg_sleep_until(timestamp with time zone)",
)

# bump when SETUP_SQL or ensure_access_control changes: applied once per database, then a cheap check
ACCESS_VERSION = 2

SETUP_SQL = """
create schema if not exists tt_security;
create table if not exists tt_security.applied (version integer not null);
revoke all on schema tt_security from public;
create table if not exists tt_security.listener_roles (
    user_id     text        primary key,
    role_name   name        not null unique,
    created_at  timestamptz not null default now()
);
revoke all on tt_security.listener_roles from public;
-- STABLE, and called as `(select tt_security.listener_user_id())` in policies: evaluated once per
-- statement, so per-user indexes serve the policy. session_user: inside a SECURITY DEFINER function
-- current_user is the owner; listeners' roles cannot SET ROLE, so the session user is who asks.
create or replace function tt_security.listener_user_id() returns text
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
    as $$ select user_id from tt_security.listener_roles where role_name = session_user $$;
revoke all on function tt_security.listener_user_id() from public;
-- the upload page shows a listener their own imports, live, without any read access to bronze
create or replace function tt_security.my_loaded_files(max_rows integer)
    returns table (file_name text, format text, records integer, inserted integer, duplicates integer,
                   loaded_at timestamptz)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
    as $$
        select f.file_name, f.format, f.records, f.inserted, f.duplicates, f.loaded_at
        from bronze.loaded_files as f
        where f.user_id = tt_security.listener_user_id()
        order by f.loaded_at desc
        limit greatest(0, least(max_rows, 1000))
    $$;
revoke all on function tt_security.my_loaded_files(integer) from public;
-- Consent to compare listening (tracktracker_assets/friends/): one row per pair, written by the
-- application alone (no listener role has any right on it). An invitation is a row without
-- accepted_at; withdrawing, by either side and at any time, deletes the row, so nothing of a withdrawn
-- friendship is kept. The comparison views of gold (access `friends`) read it with their owner's rights.
create table if not exists tt_security.friendships (
    inviter_id   text        not null,
    invitee_id   text        not null,
    invited_at   timestamptz not null default now(),
    accepted_at  timestamptz,
    primary key (inviter_id, invitee_id),
    check (inviter_id <> invitee_id)
);
-- one friendship per pair, whoever invited
create unique index if not exists friendships_pair
    on tt_security.friendships (least(inviter_id, invitee_id), greatest(inviter_id, invitee_id));
create index if not exists friendships_invitee on tt_security.friendships (invitee_id);
revoke all on tt_security.friendships from public;
"""


@dataclass(frozen=True)
class ListenerLogin:
    """The PostgreSQL login of one listener (kept under secrets/, read by Superset's process)."""

    role: str
    password: str


@dataclass(frozen=True)
class ListenerLimits:
    statement_timeout_s: int = 60
    idle_in_transaction_s: int = 60
    connections: int = 16
    temp_file_limit_mb: int = 1024


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for a password. Sent instead of the password, so the
    password itself never reaches the server, nor its log (a failed ALTER ROLE logs its statement)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _exec(cur: Any, statement: sql.Composable | str, params: Any = None) -> None:
    cur.execute(statement, params)


def _role_exists(cur: Any, role: str) -> bool:
    cur.execute("select 1 from pg_roles where rolname = %s", (role,))
    return cur.fetchone() is not None


def _is_superuser(cur: Any) -> bool:
    cur.execute("select rolsuper from pg_roles where rolname = current_user")
    return bool(cur.fetchone()[0])


def ensure_access_control(conn: Any, other_databases: tuple[str, ...] = ()) -> None:
    """The roles, the security schema and the database-wide grants. Idempotent; commits.

    other_databases (Dagster's run logs, Superset's metadata) are closed to everyone but their owners
    and those granted explicitly: PostgreSQL lets PUBLIC connect to every database by default.

    Needs CREATEROLE (the embedded server's and docker-compose's owner are superusers). Function
    privileges in pg_catalog can only be changed by a superuser: elsewhere that layer is skipped and
    Superset's own refusal (dashboards/mutators.py) remains.
    """
    if _access_current(conn):
        return
    with conn.cursor() as cur:
        transaction_lock(conn, ACCESS_LOCK_KEY)
        for role in (LISTENER_GROUP, READER_ROLE):
            if not _role_exists(cur, role):
                # the reader gets its login and password when Superset is provisioned
                _exec(cur, sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        cur.execute(SETUP_SQL)
        group = sql.Identifier(LISTENER_GROUP)
        _exec(cur, sql.SQL("grant usage on schema tt_security to {}").format(group))
        _exec(cur, sql.SQL("grant execute on function tt_security.listener_user_id() to {}").format(group))
        # gold's friends views ask whose session it is with the caller's rights; for the admin's reader,
        # who is no listener, the answer is nobody, so it sees no comparison (rather than an error)
        reader = sql.Identifier(READER_ROLE)
        _exec(cur, sql.SQL("grant usage on schema tt_security to {}").format(reader))
        _exec(cur, sql.SQL("grant execute on function tt_security.listener_user_id() to {}").format(reader))
        _exec(
            cur, sql.SQL("grant execute on function tt_security.my_loaded_files(integer) to {}").format(group)
        )
        cur.execute("select current_database(), current_user")
        database, owner = cur.fetchone()
        db = sql.Identifier(database)
        # nobody connects or creates temporary objects unless granted: listeners' roles get CONNECT only
        _exec(cur, sql.SQL("grant connect, temporary on database {} to {}").format(db, sql.Identifier(owner)))
        _exec(cur, sql.SQL("revoke connect, temporary on database {} from public").format(db))
        _exec(
            cur,
            sql.SQL("grant connect on database {} to {}, {}").format(
                db, sql.Identifier(LISTENER_GROUP), sql.Identifier(READER_ROLE)
            ),
        )
        _exec(cur, sql.SQL("create schema if not exists gold"))
        _exec(
            cur,
            sql.SQL("grant usage on schema gold to {}, {}").format(
                sql.Identifier(LISTENER_GROUP), sql.Identifier(READER_ROLE)
            ),
        )
        _exec(cur, "revoke create on schema public from public")
        cur.execute("select datname from pg_database where datname = any(%s)", (list(other_databases),))
        for (name,) in cur.fetchall():
            _exec(
                cur,
                sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(name)),
            )
        if _is_superuser(cur):
            for signature in RESTRICTED_FUNCTIONS:
                _exec(cur, f"revoke execute on function pg_catalog.{signature} from public")
        cur.execute("delete from tt_security.applied")
        cur.execute("insert into tt_security.applied (version) values (%s)", (ACCESS_VERSION,))
    conn.commit()


def _access_current(conn: Any) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "select to_regclass('tt_security.applied') is not null, "
            "(select count(*) from pg_roles where rolname = any(%s))",
            ([LISTENER_GROUP, READER_ROLE],),
        )
        has_table, roles = cur.fetchone()
        current = False
        if has_table and roles == 2:
            cur.execute("select max(version) from tt_security.applied")
            current = cur.fetchone()[0] == ACCESS_VERSION
    conn.rollback()
    return current


# ---- listeners' logins --------------------------------------------------------------------------------
def login_file(settings: Settings, user_id: str) -> Path:
    return settings.secrets_dir / "warehouse-listeners" / f"{user_id}.json"


def read_listener_login(settings: Settings, user_id: str) -> ListenerLogin | None:
    """The listener's PostgreSQL login, or None when they have none (yet)."""
    try:
        data = json.loads(login_file(settings, user_id).read_text())
        return ListenerLogin(role=str(data["role"]), password=str(data["password"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_login(settings: Settings, user_id: str, login: ListenerLogin) -> None:
    path = login_file(settings, user_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"role": login.role, "password": login.password}, handle)
    temporary.replace(path)


def _mapped_role(cur: Any, user_id: str) -> str | None:
    cur.execute("select role_name from tt_security.listener_roles where user_id = %s", (user_id,))
    row = cur.fetchone()
    return row[0] if row else None


def ensure_listener(
    conn: Any, settings: Settings, user_id: str, limits: ListenerLimits = ListenerLimits()
) -> ListenerLogin:
    """The listener's login role exists, with its limits, and its password is kept under secrets/.
    Idempotent: an existing role keeps its name; a lost password file gets a new password. Commits."""
    with conn.cursor() as cur:
        transaction_lock(conn, ACCESS_LOCK_KEY)
        role = _mapped_role(cur, user_id)
        known = read_listener_login(settings, user_id)
        if role is None:
            role = f"{ROLE_PREFIX}{secrets.token_hex(6)}"
            cur.execute(
                "insert into tt_security.listener_roles (user_id, role_name) values (%s, %s)", (user_id, role)
            )
        login = (
            known
            if known is not None and known.role == role
            else ListenerLogin(role, secrets.token_urlsafe(32))
        )
        ident = sql.Identifier(role)
        if not _role_exists(cur, role):
            _exec(cur, sql.SQL("create role {} login").format(ident))
        _exec(
            cur,
            sql.SQL(
                "alter role {} with login nosuperuser nocreatedb nocreaterole inherit noreplication "
                "nobypassrls connection limit {} password %s"
            ).format(ident, sql.Literal(limits.connections)),
            (scram_verifier(login.password),),
        )
        # inherit the group's SELECT grants, but never become the group (SET ROLE): PostgreSQL 16+
        cur.execute("show server_version_num")
        if int(cur.fetchone()[0]) >= 160000:
            _exec(
                cur,
                sql.SQL("grant {} to {} with inherit true, set false").format(
                    sql.Identifier(LISTENER_GROUP), ident
                ),
            )
        else:  # PostgreSQL 15: membership always allows SET ROLE; the group itself sees no rows
            _exec(cur, sql.SQL("alter role {} inherit").format(ident))
            _exec(cur, sql.SQL("grant {} to {}").format(sql.Identifier(LISTENER_GROUP), ident))
        role_settings = {
            "statement_timeout": f"{limits.statement_timeout_s}s",
            "idle_in_transaction_session_timeout": f"{limits.idle_in_transaction_s}s",
            "idle_session_timeout": "15min",
            "default_transaction_read_only": "on",
            # as for the reader: only schema-qualified names resolve (Superset's filter needs the schema)
            "search_path": "pg_catalog",
            # one listener's rows are few: hash joins are always cheap, misestimated nested loops are not
            "enable_nestloop": "off",
            "jit": "off",
        }
        if _is_superuser(cur):
            role_settings["temp_file_limit"] = f"{limits.temp_file_limit_mb}MB"
        for name, value in role_settings.items():
            _exec(cur, sql.SQL("alter role {} set {} = %s").format(ident, sql.Identifier(name)), (value,))
    conn.commit()
    if login != known:
        _write_login(settings, user_id, login)
    return login


def drop_listener(conn: Any, settings: Settings, user_id: str) -> bool:
    """Drop the listener's role (ending its sessions) and forget its login. Idempotent; commits."""
    with conn.cursor() as cur:
        transaction_lock(conn, ACCESS_LOCK_KEY)
        role = _mapped_role(cur, user_id)
        known = read_listener_login(settings, user_id)
        candidates = {r for r in (role, known.role if known else None) if r and r.startswith(ROLE_PREFIX)}
        dropped = False
        for name in candidates:
            cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (name,))
            if _role_exists(cur, name):
                _exec(cur, sql.SQL("drop role {}").format(sql.Identifier(name)))
                dropped = True
        cur.execute("delete from tt_security.listener_roles where user_id = %s", (user_id,))
    conn.commit()
    login_file(settings, user_id).unlink(missing_ok=True)
    return dropped


def sync_listeners(
    conn: Any,
    settings: Settings,
    user_ids: list[str],
    limits: ListenerLimits = ListenerLimits(),
    *,
    refresh: bool = False,
) -> dict[str, int]:
    """Every registered listener has a login role; roles of users no longer registered are dropped.
    refresh: re-apply every role's limits (at `up`), not only create what is missing."""
    with conn.cursor() as cur:
        cur.execute(
            "select m.user_id, m.role_name from tt_security.listener_roles as m "
            "join pg_roles as r on r.rolname = m.role_name"
        )
        mapped = dict(cur.fetchall())
    conn.rollback()
    for user_id in user_ids:
        login = read_listener_login(settings, user_id)
        if refresh or login is None or mapped.get(user_id) != login.role:
            ensure_listener(conn, settings, user_id, limits)
    gone = sorted(set(mapped) - set(user_ids))
    for user_id in gone:
        drop_listener(conn, settings, user_id)
    return {"listeners": len(user_ids), "dropped": len(gone)}
