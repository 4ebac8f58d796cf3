"""Superset as a local service: gunicorn on 127.0.0.1, metadata in the `superset` database.

The first start migrates the metadata database, creates the admin and syncs roles (`superset db upgrade`,
`fab create-admin`, `superset init`, ~20 s together, in one process: first_start.py); a marker
remembers the migration head it reached, so later starts go straight to gunicorn when the database
still has that head and the admin exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

import psycopg2
from psycopg2 import sql

from tracktracker_assets.dashboards.config import bi_settings
from tracktracker_assets.services.postgres import bundled_bin_dir
from tracktracker_assets.services.processes import (
    Matcher,
    pid_alive,
    read_pid,
    runs,
    start_background,
    stop_process_group,
    stop_recorded,
    tcp_listening,
    wait_until,
)
from tracktracker_assets.services.state import (
    CorruptState,
    port_for,
    read_ports,
    read_state,
    report_corrupt,
    write_atomic,
)
from tracktracker_assets.settings import SUPERSET_METADATA_ROLE, Settings, get_settings, read_or_create_secret
from tracktracker_assets.warehouse.access import scram_verifier

SUPERSET_DIR = Path(__file__).resolve().parents[2] / "superset"
CONFIG_PATH = SUPERSET_DIR / "superset_config.py"
ADMIN_USERNAME = "admin"
SERVICE = "superset"


# ---- secrets ----------------------------------------------------------------------------------------
def admin_password(settings: Settings) -> str:
    return bi_settings().admin_password or read_or_create_secret(
        settings.secrets_dir / "superset-admin-password"
    )


def _ensure_secret_key(settings: Settings) -> None:
    # superset_config.py reads the same file; creating it here avoids two workers racing to make it
    if not bi_settings().secret_key:
        read_or_create_secret(settings.secrets_dir / "superset-secret-key")


# ---- where things are ---------------------------------------------------------------------------------
def pid_file(settings: Settings) -> Path:
    return settings.run_dir / "superset.pid"


def log_file(settings: Settings) -> Path:
    return settings.log_dir / "superset.log"


def _marker(settings: Settings) -> Path:
    return settings.run_dir / "superset-bootstrap.json"


def external_url() -> str | None:
    """A Superset run elsewhere (docker-compose's `superset` container): used, never started here."""
    value = os.environ.get("TRACKTRACKER_SUPERSET_URL", "").strip()
    return value.rstrip("/") or None


def url(settings: Settings | None = None) -> str:
    if external_url():
        return external_url()  # type: ignore[return-value]
    settings = settings or get_settings()
    port = read_ports(settings).get(SERVICE)
    if port is None:
        raise RuntimeError("Superset has not been started yet: run `tracktracker up`.")
    return f"http://127.0.0.1:{port}"


def _tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"`{name}` is not installed in this environment: run the README's setup command.")
    return found


def _pg_bin(settings: Settings) -> Path | None:
    """PostgreSQL's client tools (SQL Lab's syntax check runs `ecpg`), when this machine has them."""
    if settings.pg_bin:
        return settings.pg_bin
    try:
        return bundled_bin_dir()
    except RuntimeError:
        return None


# Superset's process is given nothing of the warehouse owner, Dagster or dbt: its queries log in as the
# reader or a listener (dashboards/mutators.py), its metadata as superset_meta.
ENV_KEPT_OUT = (
    "TRACKTRACKER_DATABASE_URL",
    "TRACKTRACKER_DAGSTER_DATABASE_URL",
    "TRACKTRACKER_DAGSTER_",
    "TT_DBT_",
    "DAGSTER_",
    "PG",
    "POSTGRES_",
    "DBT_",
)


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_KEPT_OUT)}
    pg_bin = _pg_bin(settings)
    if pg_bin is not None and (pg_bin / "ecpg").exists():
        env["PATH"] = f"{pg_bin}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        SUPERSET_CONFIG_PATH=str(CONFIG_PATH),
        SUPERSET_HOME=str(settings.home / "superset"),
        TRACKTRACKER_HOME=str(settings.home),
        TRACKTRACKER_SUPERSET_DATABASE_URL=settings.superset_database_url,
        PYTHONUNBUFFERED="1",
        FLASK_APP="superset.app:create_app()",
    )
    return env


def ensure_metadata_role(settings: Settings) -> None:
    """`superset_meta` owns Superset's metadata database (and all in it), with its own password; the
    warehouse owner creates it. An install from before this role existed has its objects handed over."""
    password = settings.superset_metadata_password()
    conn = psycopg2.connect(settings.superset_owner_url)
    conn.autocommit = True
    role = sql.Identifier(SUPERSET_METADATA_ROLE)
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (SUPERSET_METADATA_ROLE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create role {} login").format(role))
            cur.execute(
                sql.SQL(
                    "alter role {} with login nosuperuser nocreatedb nocreaterole noreplication "
                    "connection limit 64 password %s"
                ).format(role),
                (scram_verifier(password),),
            )
            cur.execute("select current_database()")
            database = sql.Identifier(cur.fetchone()[0])
            cur.execute(sql.SQL("alter database {} owner to {}").format(database, role))
            cur.execute(sql.SQL("alter schema public owner to {}").format(role))
            cur.execute(
                """
                select format('alter %%s %%I.%%I owner to %%I',
                              case c.relkind when 'S' then 'sequence' when 'v' then 'view'
                                             when 'm' then 'materialized view' else 'table' end,
                              n.nspname, c.relname, %s)
                from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
                where n.nspname = 'public' and c.relkind in ('r', 'p', 'S', 'v', 'm')
                  and pg_get_userbyid(c.relowner) <> %s
                  -- a serial's sequence follows its table
                  and not exists (select from pg_depend as d where d.classid = 'pg_class'::regclass
                                  and d.objid = c.oid and d.deptype in ('a', 'i'))
                union all
                select format('alter type %%I.%%I owner to %%I', n.nspname, t.typname, %s)
                from pg_type as t join pg_namespace as n on n.oid = t.typnamespace
                where n.nspname = 'public' and t.typtype in ('e', 'd')
                  and pg_get_userbyid(t.typowner) <> %s
                """,
                (SUPERSET_METADATA_ROLE,) * 4,
            )
            for (statement,) in cur.fetchall():
                cur.execute(statement)
    finally:
        conn.close()


# ---- first start: migrate, admin, roles ---------------------------------------------------------------
def _metadata_state(settings: Settings) -> tuple[str | None, bool]:
    """(alembic revision, admin exists) of the metadata database; (None, False) when it is empty."""
    conn = psycopg2.connect(settings.superset_database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('public.alembic_version'), to_regclass('public.ab_user')")
            has_alembic, has_users = cur.fetchone()
            revision = None
            if has_alembic:
                cur.execute("select version_num from alembic_version")
                row = cur.fetchone()
                revision = row[0] if row else None
            admin = False
            if has_users:
                cur.execute("select 1 from ab_user where username = %s", (ADMIN_USERNAME,))
                admin = cur.fetchone() is not None
            return revision, admin
    finally:
        conn.close()


def _superset(
    settings: Settings, *commands: tuple[str, ...], stdin: str | None = None, timeout: float = 600
) -> None:
    """Superset's CLI commands, in order, in one process sharing one app (first_start.py); the first
    that fails stops the rest."""
    log = log_file(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    argv: list[str] = []
    for command in commands:
        argv += [*(["--"] if argv else []), *command]
    with open(log, "ab") as handle:
        handle.write(b"\n")
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "tracktracker_assets.dashboards.first_start", *argv],
            input=stdin.encode() if stdin is not None else None,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=_env(settings),
            cwd=settings.home,
            timeout=timeout,
        )
    if result.returncode != 0:
        names = ", ".join(f"`superset {' '.join(command[:2])}`" for command in commands)
        raise RuntimeError(
            f"Superset's first-start commands ({names}) failed (exit {result.returncode}); see {log}"
        )


def _parse_marker(text: str) -> dict[str, str]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def bootstrap(settings: Settings) -> bool:
    """Migrate / create the admin / sync roles when needed. Returns True if anything was done."""
    ensure_metadata_role(settings)
    marker = _marker(settings)
    try:
        recorded = read_state(marker, _parse_marker) or {}
    except CorruptState as exc:
        report_corrupt(exc, "checking Superset's metadata afresh")
        recorded = {}
    revision, admin = _metadata_state(settings)
    current = version("apache-superset")
    up_to_date = (
        revision is not None
        and recorded.get("revision") == revision
        and recorded.get("superset_version") == current
    )
    if up_to_date and admin:
        return False
    commands: list[tuple[str, ...]] = [] if up_to_date else [("db", "upgrade")]
    stdin = None
    if not admin:
        password = admin_password(settings)
        # the password goes through stdin (click's prompt), never argv where `ps` would show it
        stdin = f"{password}\n{password}\n"
        commands.append(
            (
                "fab",
                "create-admin",
                "--username",
                ADMIN_USERNAME,
                "--firstname",
                "TrackTracker",
                "--lastname",
                "Admin",
                "--email",
                "admin@tracktracker.invalid",
            )
        )
    commands.append(("init",))
    _superset(settings, *commands, stdin=stdin)
    revision, admin = _metadata_state(settings)
    if not admin:
        raise RuntimeError(f"Superset's admin user was not created; see {log_file(settings)}")
    write_atomic(marker, json.dumps({"revision": revision, "superset_version": current}))
    return True


# ---- lifecycle --------------------------------------------------------------------------------------------
def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _ours(settings: Settings) -> Matcher:
    """Our gunicorn, recognised without its PID file by the Superset home it was started for."""
    return runs(
        "gunicorn", "superset.app:create_app()", env={"SUPERSET_HOME": str(settings.home / "superset")}
    )


def running_pid(settings: Settings | None = None) -> int | None:
    settings = settings or get_settings()
    return read_pid(pid_file(settings), find=_ours(settings))


def is_running(settings: Settings | None = None) -> bool:
    if external_url():
        return _healthy(external_url())  # type: ignore[arg-type]
    settings = settings or get_settings()
    port = read_ports(settings).get(SERVICE)
    return running_pid(settings) is not None and port is not None and _healthy(f"http://127.0.0.1:{port}")


APP = "tracktracker_assets.dashboards.front:application()"


def gunicorn_argv(bind: str, workers: int, threads: int, app: str = APP) -> list[str]:
    """How Superset is served, locally and in docker-compose (`tracktracker superset serve`).

    gunicorn runs the front's worker (tracktracker_assets/dashboards/front.py): requests are received
    whole and
    answers sent on an event loop, so a thread of the `threads` per worker is held only while Superset
    works. The watchdog's timeout stays above SQL Lab's, so a long query is never mistaken for a hang.
    """
    timeout = max(120, bi_settings().sqllab_timeout + 30)
    return [
        _tool("gunicorn"),
        "--bind", bind,
        "--workers", str(workers),
        "--worker-class", "tracktracker_assets.dashboards.front.Worker",
        "--threads", str(threads),
        "--timeout", str(timeout),
        "--graceful-timeout", "5",
        "--keep-alive", "5",
        # no runtime control socket: it sits at one path per user, shared by every gunicorn
        "--no-control-socket",
        app,
    ]  # fmt: skip


def serve(settings: Settings, host: str, port: int) -> None:
    """Run Superset in the foreground (a container's main process); metadata bootstrapped by `init`."""
    config = bi_settings()
    argv = gunicorn_argv(f"{host}:{port}", config.workers, config.threads)
    os.execve(argv[0], argv, _env(settings))


def prepare(settings: Settings) -> bool:
    """Everything Superset needs before its server starts: folders, secret key, metadata bootstrapped.
    Safe to run ahead of start() (`up` runs it beside its other steps); start() runs it again, a no-op
    then. Returns True if it bootstrapped anything."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    (settings.home / "superset").mkdir(parents=True, exist_ok=True)
    _ensure_secret_key(settings)
    return bootstrap(settings)


def start(
    settings: Settings | None = None,
    *,
    workers: int | None = None,
    timeout: float = 240,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Start Superset (bootstrapping its metadata on first use); returns its base URL.

    extra_env: variables for Superset's process only (tests give it a small upload limit this way).
    """
    settings = settings or get_settings()
    if external_url():
        wait_until(lambda: _healthy(external_url()), timeout=timeout, what=f"Superset at {external_url()}")
        return url(settings)
    if is_running(settings):
        return url(settings)
    stale = running_pid(settings)
    if stale is not None:  # alive but not answering: start afresh
        stop_process_group(stale)
    prepare(settings)
    port = port_for(settings, SERVICE)
    # workers and threads follow the cores and memory (dashboards/config.py); each worker imports
    # Superset again
    config = bi_settings()
    workers = workers or config.workers
    argv = gunicorn_argv(f"127.0.0.1:{port}", workers, config.threads)
    env = {**_env(settings), **(extra_env or {})}
    pid = start_background(
        argv, pid_file=pid_file(settings), log_file=log_file(settings), env=env, cwd=settings.home
    )
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not pid_alive(pid):
            raise RuntimeError(f"Superset exited during start-up; see {log_file(settings)}")
        return _healthy(base_url)

    try:
        wait_until(ready, timeout=timeout, what="Superset", log_file=log_file(settings))
    except Exception:
        stop(settings)
        raise
    return base_url


def stop(settings: Settings | None = None) -> None:
    """Stop gunicorn and its workers; leaves no process behind."""
    settings = settings or get_settings()
    stopped = stop_recorded(pid_file(settings), find=_ours(settings))
    port = read_ports(settings).get(SERVICE)
    if port is not None and stopped:
        wait_until(lambda: not tcp_listening(port), timeout=10, what="Superset's port to close")
