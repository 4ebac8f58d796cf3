"""Start and stop background processes by PID file, each in its own process group (no orphans).

A PID alone proves nothing: after a crash or a reboot the kernel hands the number to another program.
So a PID file records the process as it was started: its PID, its start time (field 22 of
/proc/<pid>/stat, clock ticks since boot), its command line and the boot it ran in. A PID file is trusted
only while the process it names still matches all of these; anything else counts as stopped and is never
signalled. A PID file from an older TrackTracker (a bare number) cannot be checked and is not trusted.

Where a service can be recognised without its PID file (the registry by its data directory, Superset
and Dagster by the TRACKTRACKER_HOME they were started for), a `find` matcher finds the running process
and the PID file is rewritten for it: state that was lost or garbled heals instead of leaving an orphan.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tracktracker_assets.services.state import CorruptState, read_state, set_aside, warn, write_atomic

T = TypeVar("T")

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessRecord:
    """A process as identified when it was started (or found): what a PID file holds."""

    pid: int
    start_time: int
    argv: tuple[str, ...]
    boot_id: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "start_time": self.start_time,
                "argv": list(self.argv),
                "boot_id": self.boot_id,
            },
            indent=2,
        )

    @classmethod
    def parse(cls, text: str) -> ProcessRecord:
        """A PID file's content; ValueError if it is not a record (a bare PID of old files included)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a bare PID from an older TrackTracker, which cannot be checked")
        pid, start_time, argv, boot_id = data["pid"], data["start_time"], data["argv"], data["boot_id"]
        if not (
            isinstance(pid, int) and pid > 0 and isinstance(start_time, int) and isinstance(boot_id, str)
        ):
            raise ValueError("pid, start_time or boot_id has the wrong type")
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            raise ValueError("argv is not a command line")
        return cls(pid, start_time, tuple(argv), boot_id)


@functools.cache
def _boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (the command name in field 2 may hold spaces and parentheses)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _exited(fields: list[str]) -> bool:
    """A zombie (or a dying process): it has exited, only the process table keeps it until reaped."""
    return fields[0] in ("Z", "X")


def inspect(pid: int) -> ProcessRecord | None:
    """The live process with this PID as a record; None if there is none, or only a zombie."""
    fields = _stat(pid)
    if fields is None or _exited(fields):
        return None
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    argv = tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1]) or (f"[{pid}]",)
    return ProcessRecord(pid, int(fields[19]), argv, _boot_id())


def is_running(record: ProcessRecord) -> bool:
    """The recorded process still runs: same PID, start time, command line and boot."""
    return inspect(record.pid) == record


def pid_alive(pid: int) -> bool:
    """Some process (not a zombie) has this PID; whose it is, only a ProcessRecord can tell."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    return fields is None or not _exited(fields)


def environ_of(pid: int) -> dict[str, str] | None:
    """The environment pid was started with; None when it cannot be read (another user's process)."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def iter_processes() -> Iterator[ProcessRecord]:
    for entry in PROC.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            record = inspect(int(entry.name))
            if record is not None:
                yield record


Matcher = Callable[[ProcessRecord], bool]


def runs(program: str, *args: str, env: Mapping[str, str] | None = None) -> Matcher:
    """A matcher for processes running `program` (an argv element of that name: a script run by its
    interpreter counts), with `args` as consecutive arguments and `env` in their environment."""

    def match(record: ProcessRecord) -> bool:
        if not any(Path(part).name == program for part in record.argv):
            return False
        if args and not any(
            record.argv[i : i + len(args)] == args for i in range(len(record.argv) - len(args) + 1)
        ):
            return False
        if env:
            environ = environ_of(record.pid)
            return environ is not None and all(environ.get(k) == v for k, v in env.items())
        return True

    return match


def find_process(match: Matcher) -> ProcessRecord | None:
    """The process match recognises: a process-group leader first (what start_background starts),
    the oldest if several."""
    found = [record for record in iter_processes() if match(record)]
    found.sort(key=lambda r: (_pgid(r.pid) != r.pid, r.start_time))
    return found[0] if found else None


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


# ---- PID files -----------------------------------------------------------------------------------
def read_record(pid_file: Path, *, find: Matcher | None = None) -> ProcessRecord | None:
    """The running process pid_file names, if it is the one recorded; else the one `find` recognises
    (pid_file is rewritten for it); else None. A PID file that is not a record is reported and set aside."""
    record = None
    try:
        record = read_state(pid_file, ProcessRecord.parse)
    except CorruptState as exc:
        bad = set_aside(pid_file)
        outcome = "looking for the process by what it runs" if find else "its process is treated as stopped"
        warn(f"{pid_file} {exc.reason}; moved it to {bad.name}; {outcome}")
    if record is not None and is_running(record):
        return record
    if find is None:
        return None
    found = find_process(find)
    if found is not None:
        write_record(pid_file, found)
        warn(
            f"{pid_file} did not name its running process; found it by what it runs "
            f"(pid {found.pid}) and recorded it"
        )
    return found


def read_pid(pid_file: Path, *, find: Matcher | None = None) -> int | None:
    """The PID of the running process pid_file names (see read_record), or None."""
    record = read_record(pid_file, find=find)
    return record.pid if record else None


def write_record(pid_file: Path, record: ProcessRecord) -> None:
    write_atomic(pid_file, record.to_json() + "\n")


def start_background(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv detached in a new session; its stdout/stderr go to log_file; pid_file records it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    record = _command_line_set(proc.pid)
    if record is None:
        proc.wait()
        raise RuntimeError(f"`{argv[0]}` exited at once (exit {proc.returncode}); see {log_file}")
    write_record(pid_file, record)
    return proc.pid


def _command_line_set(pid: int, timeout: float = 5.0) -> ProcessRecord | None:
    """The record of a process just exec'd. Popen returns when exec has begun, a moment before the
    kernel fills in the new command line (until then /proc shows an empty one)."""
    deadline = time.monotonic() + timeout
    while True:
        record = inspect(pid)
        if record is None or record.argv != (f"[{pid}]",) or time.monotonic() > deadline:
            return record
        time.sleep(0.002)


def stop_recorded(pid_file: Path, *, find: Matcher | None = None, timeout: float = 20.0) -> bool:
    """Stop the process group pid_file (or `find`) names and remove the file; False if none ran."""
    record = read_record(pid_file, find=find)
    stopped = record is not None and stop_process_group(record.pid, timeout=timeout, expected=record)
    pid_file.unlink(missing_ok=True)
    return stopped


def stop_process_group(pid: int, *, timeout: float = 20.0, expected: ProcessRecord | None = None) -> bool:
    """SIGTERM the process group led by pid, then SIGKILL whatever is left after timeout.

    Only our own processes are signalled: pid must still be `expected` (by default, the process pid
    names at the call), checked again before every signal. A group is signalled only if pid leads it
    (start_background starts each service as a group leader), else pid alone. Once the leader has exited,
    the rest of its group may still be signalled: Linux does not reuse a PID while a group of that
    number exists. Returns False if nothing was signalled because pid is not (or no longer) that process.
    """
    leader = expected or inspect(pid)
    if leader is None or leader.pid != pid or not is_running(leader):
        return False
    group = _pgid(pid) == pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal(leader, group, sig):
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not pid_alive(pid) and not (group and _group_alive(pid)):
                return True
            time.sleep(0.1)
    return True


def _signal(leader: ProcessRecord, group: bool, sig: signal.Signals) -> bool:
    """Send sig to the leader's group (or the leader alone); False if there is nothing left of ours."""
    current = inspect(leader.pid)
    if current is not None and current != leader:
        return False  # the PID now names another process: never signal it or its group
    try:
        if group:
            os.killpg(leader.pid, sig)
        elif current is not None:
            os.kill(leader.pid, sig)
        else:
            return False
    except ProcessLookupError:
        return False
    return True


def in_background(action: Callable[[], T], name: str) -> Future[T]:
    """action begun on a thread of its own; result() waits for it and raises its error. The interpreter
    waits for it at exit: never cut midway (a migration, a server's start)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        return pool.submit(action)
    finally:
        pool.shutdown(wait=False)


def all_at_once(*actions: Callable[[], object]) -> None:
    """Run the actions together and wait for all of them; then raise the first one's error, if any.
    Stopping services one after the other waits for each one's shutdown in turn: together, `down`
    waits for the slowest."""
    if len(actions) < 2:
        for action in actions:
            action()
        return
    with ThreadPoolExecutor(len(actions), thread_name_prefix="stop") as pool:
        futures = [pool.submit(action) for action in actions]
    for future in futures:
        future.result()


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group has yet to exit. A zombie has exited: one whose parent is gone
    waits for init to reap it, which some inits (a container's, a VM's agent) do only every second or
    two, while the group's number stays in use."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in PROC.iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[2] == str(pgid) and not _exited(fields):
            return True
    return False


# ---- waiting and sockets ---------------------------------------------------------------------------
def eventually(check: Callable[[], bool], *, timeout: float) -> bool:
    """Whether check() holds within timeout seconds (asked every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, log_file: Path | None = None) -> None:
    if eventually(check, timeout=timeout):
        return
    tail = ""
    if log_file and log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        tail = f"\nlast lines of {log_file}:\n{tail}"
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s.{tail}")


def tcp_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def listening_ports(pid: int) -> list[int]:
    """The TCP ports pid itself listens on (its own sockets, not its children's), lowest first."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


# What a database server needs of our environment: nothing secret. Servers are started by whichever
# command first needs them, whose environment may by then hold the warehouse owner's URL or dbt's
# password (exported for dbt): none of it reaches a server's environment (/proc/<pid>/environ).
_SECRET_HINTS = ("PASSWORD", "SECRET", "TOKEN", "_URL", "_KEY", "TT_DBT_", "PGPASS")


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that could hold a secret, plus extra."""
    env = {k: v for k, v in os.environ.items() if not any(hint in k.upper() for hint in _SECRET_HINTS)}
    env.update(extra)
    return env
