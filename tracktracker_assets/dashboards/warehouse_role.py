"""The PostgreSQL role of the admin's Superset queries: `superset_reader`, read-only, schema gold only.

Listeners' queries run as their own roles (warehouse/access.py); this one sees every listener's rows,
through the `tt_reader_all` policies dbt puts on each gold table (dbt/macros/row_security.sql).
"""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from tracktracker_assets.dashboards.config import bi_settings
from tracktracker_assets.settings import Settings, read_or_create_secret
from tracktracker_assets.warehouse.access import READER_ROLE, scram_verifier

GOLD_SCHEMA = "gold"


def reader_password(settings: Settings) -> str:
    return bi_settings().reader_password or read_or_create_secret(
        settings.secrets_dir / "superset-reader-password"
    )


def ensure_reader_role(warehouse_url: str, password: str, *, owners: list[str] | None = None) -> None:
    """Create or update `superset_reader`: login, read-only, SELECT on gold (now and later) only.

    owners: roles that create gold tables (dbt); their future tables are granted through default
    privileges. Defaults to the role of warehouse_url, which is the one dbt runs as in local mode.
    """
    conn = psycopg2.connect(warehouse_url)
    role, schema = sql.Identifier(READER_ROLE), sql.Identifier(GOLD_SCHEMA)
    try:
        with conn.cursor() as cur:
            cur.execute("select current_database(), current_user")
            database, me = cur.fetchone()
            cur.execute("select 1 from pg_roles where rolname = %s", (READER_ROLE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create role {} login").format(role))
            cur.execute(
                sql.SQL(
                    "alter role {} with login nosuperuser nocreatedb nocreaterole noinherit noreplication "
                    "nobypassrls connection limit 64 password %s"
                ).format(role),
                (scram_verifier(password),),
            )
            for setting, value in (
                ("default_transaction_read_only", "on"),
                # Superset applies RLS only to tables it can name with a schema; an unqualified name that
                # PostgreSQL resolves through search_path would slip past it, so resolve nothing.
                ("search_path", "pg_catalog"),
                ("statement_timeout", "120s"),
                # Every query of this role is narrowed by RLS to one listener, often through semi-joins
                # the planner misestimates (dimensions: "only what you played"): it then picks nested loops
                # that ran 23 s where hash joins take 0.2 s (10M-play benchmark). Hash joins over one
                # listener's rows are always cheap; JIT compilation only adds latency at that size.
                ("enable_nestloop", "off"),
                ("jit", "off"),
                ("idle_in_transaction_session_timeout", "60s"),
            ):
                cur.execute(
                    sql.SQL("alter role {} set {} = %s").format(role, sql.Identifier(setting)), (value,)
                )
            cur.execute(sql.SQL("create schema if not exists {}").format(schema))
            cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), role))
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(schema, role))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema, role))
            for owner in owners or [me]:
                cur.execute(
                    sql.SQL(
                        "alter default privileges for role {} in schema {} grant select on tables to {}"
                    ).format(sql.Identifier(owner), schema, role)
                )
        conn.commit()
    finally:
        conn.close()
