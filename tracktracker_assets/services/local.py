"""Local mode as a whole: start what is embedded, prepare the warehouse and registry, stop it all."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg2

from tracktracker_assets.services.mongo import EmbeddedMongo, port_of
from tracktracker_assets.services.postgres import DATABASES, EmbeddedPostgres
from tracktracker_assets.services.processes import all_at_once
from tracktracker_assets.settings import Settings
from tracktracker_assets.users.registry import Registry
from tracktracker_assets.warehouse.access import ensure_access_control
from tracktracker_assets.warehouse.db import connect
from tracktracker_assets.warehouse.schema import migrate


@dataclass
class ServiceState:
    name: str
    running: bool
    detail: str


def start_storage(settings: Settings, *, postgres_config: dict[str, str] | None = None) -> None:
    """PostgreSQL and the registry (embedded ones started if needed), bronze migrated, indexes made."""
    if settings.embedded_postgres:
        EmbeddedPostgres(settings, extra_config=postgres_config or {}).start()
    else:
        _ensure_external_databases(settings)
    if settings.embedded_mongo:
        EmbeddedMongo(settings).start()
    conn = connect(settings.database_url)
    try:
        migrate(conn)
        ensure_access_control(conn, other_databases=DATABASES[1:])
    finally:
        conn.close()
    with open_registry(settings) as registry:
        registry.ensure_indexes()


def _ensure_external_databases(settings: Settings) -> None:
    """With TRACKTRACKER_DATABASE_URL, create the dagster/superset databases beside it if allowed."""
    conn = connect(settings.database_url, autocommit=True)
    try:
        with conn.cursor() as cur:
            for name in DATABASES[1:]:
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if cur.fetchone() is None:
                    try:
                        cur.execute(f'create database "{name}"')
                    except psycopg2.Error as exc:
                        raise RuntimeError(
                            f"Database {name!r} does not exist on the server of TRACKTRACKER_DATABASE_URL "
                            f"and cannot be created ({exc.pgerror or exc}). Create it, or set "
                            "TRACKTRACKER_DAGSTER_DATABASE_URL."
                        ) from exc
    finally:
        conn.close()


def open_registry(settings: Settings) -> Registry:
    return Registry(settings.mongo_url, settings.mongo_db, settings.secret_key)


def stop_storage(settings: Settings) -> None:
    stops = []
    if settings.embedded_mongo:
        stops.append(EmbeddedMongo(settings).stop)
    if settings.embedded_postgres:
        stops.append(EmbeddedPostgres(settings).stop)
    all_at_once(*stops)


def storage_states(settings: Settings) -> list[ServiceState]:
    """What runs, asked of the processes themselves: a PID file naming a process that is gone, or
    that is now another program, shows the service as stopped."""
    states = []
    if settings.embedded_postgres:
        pg = EmbeddedPostgres(settings)
        pid, port = pg.running_pid(), pg.running_port()
        states.append(
            ServiceState(
                "postgres",
                pid is not None,
                f"embedded, 127.0.0.1:{port}, pid {pid}" if pid else "embedded, stopped",
            )
        )
    else:
        states.append(ServiceState("postgres", _reachable(settings), "external (TRACKTRACKER_DATABASE_URL)"))
    if settings.embedded_mongo:
        mongo = EmbeddedMongo(settings).running()
        port = port_of(mongo.argv) if mongo else None
        states.append(
            ServiceState(
                "registry",
                mongo is not None,
                f"embedded SecantusDB, 127.0.0.1:{port}, pid {mongo.pid}, "
                + ("login required" if "--auth" in mongo.argv else "no login yet (the next `up` adds one)")
                if mongo
                else "embedded, stopped",
            )
        )
    else:
        # host and port only: the URL carries the credentials
        states.append(ServiceState("registry", True, f"external, {_host_port(settings.mongo_url_override)}"))
    return states


def _host_port(url: str | None) -> str:
    netloc = urlsplit(url or "").netloc
    return netloc.rpartition("@")[2] or "TRACKTRACKER_MONGO_URL"


def _reachable(settings: Settings) -> bool:
    try:
        connect(settings.database_url).close()
    except psycopg2.Error:
        return False
    return True


def storage_running(settings: Settings) -> bool:
    return all(state.running for state in storage_states(settings))
