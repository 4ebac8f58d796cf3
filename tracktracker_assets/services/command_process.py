"""The command process: a command that starts Dagster runs spends ~4 s before its work, importing
Dagster, dbt and the rooms and building the definitions. `up` starts one process that has done that
once; `tracktracker import` hands itself to it over a Unix socket under the home, with its own stdin,
stdout and stderr. The process forks, and the fork runs the command exactly as the CLI would: the same
code, the caller's working directory and environment, its output straight on the caller's terminal.
The caller waits for the exit status, and forwards Ctrl-C and SIGTERM (the fork ends its run as the
CLI does: marked failed, slots freed, dbt stopped); a caller that goes away ends the fork the same way.
A refresh's dbt (`tracktracker-dbt`, transform/child.py) is handed over the same way: a fork that has
dbt imported runs it, instead of a new Python process importing it (~2.5 s of each refresh).

The command runs in its own process, as before, whenever the command process is not running, was started
from other code (a file of the package or the dbt project changed since) or with other settings (its
TRACKTRACKER_* variables differ from the caller's), or the caller's stdio are not real files.

This module is imported by the CLI on every import: the standard library only, at the top.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracktracker_assets.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
# what decides what a command does: the code, the dbt project, and the settings of the environment
_CODE = (("tracktracker_assets", (".py",)), ("dbt", (".sql", ".yml", ".yaml", ".csv")))
_CODE_FILES = ("workspace.yaml", "pyproject.toml", "uv.lock")
# every setting is a TRACKTRACKER_* variable (settings.py); Dagster's and dbt's are derived from them
_SETTINGS_PREFIX = "TRACKTRACKER_"
# set in a fork's environment: the command it runs must not hand itself over again
SERVED = "TRACKTRACKER_COMMAND_FORK"
_MESSAGE = 1 << 20
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def socket_path(settings: Settings) -> Path:
    return settings.run_dir / "commands.sock"


def pid_file(settings: Settings) -> Path:
    return settings.run_dir / "commands.pid"


def log_file(settings: Settings) -> Path:
    return settings.log_dir / "commands.log"


def code_stamp() -> str:
    """Every file of the package and the dbt project by path, size and modification time."""
    digest = hashlib.sha256()
    for folder, suffixes in _CODE:
        for root, dirs, files in os.walk(REPO_ROOT / folder):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "target", "logs", "dbt_packages"))
            for name in sorted(files):
                if name.endswith(suffixes):
                    _stamp_file(digest, Path(root) / name)
    for name in _CODE_FILES:
        _stamp_file(digest, REPO_ROOT / name)
    return digest.hexdigest()


def _stamp_file(digest: Any, path: Path) -> None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return
    digest.update(f"{path.relative_to(REPO_ROOT)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())


_caller_environment: dict[str, str] | None = None


def remember_caller_environment() -> None:
    """The environment this command was started with, before it derives Dagster's and dbt's variables
    (prepare_dagster_home): the command process `up` starts gets that one, as the next command has."""
    global _caller_environment
    _caller_environment = dict(os.environ)


def settings_environment(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.startswith(_SETTINGS_PREFIX) and k != SERVED}


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.send(json.dumps(message).encode())


def _receive(conn: socket.socket) -> dict[str, Any] | None:
    data = conn.recv(_MESSAGE)
    return json.loads(data) if data else None


# ---- the caller -----------------------------------------------------------------------------------
def _real_stdio() -> bool:
    """The caller's stdin, stdout and stderr are the process's descriptors 0-2 (not, say, a test
    runner's captured streams, which a fork could not write to)."""
    try:
        return [s.fileno() for s in (sys.stdin, sys.stdout, sys.stderr)] == [0, 1, 2]
    except (AttributeError, OSError, ValueError):
        return False


def hand_over(settings: Settings, argv: list[str], program: str = "tracktracker") -> int | None:
    """Run `program *argv` (`tracktracker`, or `dbt` for tracktracker-dbt) in a fork of the command
    process: its exit status, or None when there is no command process for this code and these
    settings (the caller then runs the command itself)."""
    path = socket_path(settings)
    if (program == "tracktracker" and os.environ.get(SERVED)) or not path.exists() or not _real_stdio():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(str(path))
        request = {
            "program": program,
            "argv": argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "stamp": code_stamp(),
        }
        sys.stdout.flush()
        sys.stderr.flush()
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        reply = _receive(conn)
    except OSError:
        conn.close()
        return None
    if not reply or not reply.get("accepted"):
        conn.close()
        return None
    return _wait_for_exit(settings, conn)


def _wait_for_exit(settings: Settings, conn: socket.socket) -> int:
    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            _send(conn, {"signal": signal.Signals(signum).name})

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        while True:
            message = _receive(conn)  # a signal forwarded meanwhile resumes the wait (PEP 475)
            if message is None:
                print(
                    "error: the command process ended without the command's exit status "
                    f"(its log: {log_file(settings)}). Run the command again.",
                    file=sys.stderr,
                )
                return 1
            if "exit" in message:
                return int(message["exit"])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        conn.close()


# ---- the command process -------------------------------------------------------------------------
# What it loads before it forks, and what a fork runs, are the CLI's (cli/command_server.py, its
# entry point): this module knows neither, so the rooms it would load never import it back.
SERVER_MODULE = "tracktracker_assets.cli.command_server"


def serve(
    settings: Settings, warm_up: Callable[[], str | None], programs: dict[str, Callable[[], None]]
) -> None:
    """Run warm_up (which may say what it did), then accept commands until SIGTERM; each runs in a
    fork of this process, which calls the `main` of its program (one of programs, by name) with the
    caller's arguments."""
    # the settings as started, before the warm-up derives Dagster's and dbt's variables from them, and
    # the code as it is before the warm-up loads it (a file changed meanwhile then declines every caller)
    environment, stamp = settings_environment(dict(os.environ)), code_stamp()
    warmed = warm_up()
    if threading.active_count() != 1:  # a fork keeps only the forking thread: locks others hold stay held
        raise RuntimeError("the command process started threads while warming up; it cannot fork safely")
    # what warming up loaded lives as long as this process: out of the cycle collector's reach. A fork's
    # first full collection would otherwise walk all of it (~440,000 objects, 0.25 s of each import and
    # of each refresh's dbt) and copy every page it touches.
    gc.collect()
    gc.freeze()
    path = socket_path(settings)
    listener = _bind(path)
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        listener.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    if warmed:
        _log(warmed)
    _log(f"ready on {path} (pid {os.getpid()})")
    try:
        while not stopping:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                _accept(conn, listener, stamp, environment, programs)
    finally:
        path.unlink(missing_ok=True)
        _log("stopped")


def _log(message: str) -> None:
    """A line of the log (this process's stdout): when, and what."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} commands: {message}", flush=True)


def _bind(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    if _answers(path):
        raise RuntimeError(f"another command process already listens on {path}")
    path.unlink(missing_ok=True)  # left by a process that died
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    previous = os.umask(0o177)  # the socket is this user's alone
    try:
        listener.bind(str(path))
    finally:
        os.umask(previous)
    listener.listen(16)
    return listener


def _accept(
    conn: socket.socket,
    listener: socket.socket,
    stamp: str,
    environment: dict[str, str],
    programs: dict[str, Callable[[], None]],
) -> None:
    fds: list[int] = []
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        message, fds, _, _ = socket.recv_fds(conn, _MESSAGE, 3)
        if not message:
            return  # a readiness probe: connected, asked nothing
        request = json.loads(message)
        refusal = _refusal(uid, request, fds, stamp, environment, set(programs))
        if refusal:
            _log(f"declined a command: {refusal}")
            _send(conn, {"accepted": False, "reason": refusal})
            return
        pid = os.fork()
        if pid == 0:
            listener.close()
            _run_fork(conn, request, fds, programs[request["program"]])  # never returns
        command = " ".join([request["program"], *request["argv"][:2]])
        _log(f"{command} (from {request['cwd']}) in fork {pid}")
    except (OSError, ValueError) as exc:
        _log(f"a caller's request failed: {exc}")
    finally:
        for fd in fds:
            os.close(fd)


def _refusal(
    uid: int,
    request: dict[str, Any],
    fds: list[int],
    stamp: str,
    environment: dict[str, str],
    programs: set[str],
) -> str:
    if uid != os.getuid():
        return f"the caller runs as uid {uid}, this process as {os.getuid()}"
    if len(fds) != 3:
        return "the caller did not pass its stdin, stdout and stderr"
    if request.get("stamp") != stamp:
        return "the code or the dbt project changed since it started (`tracktracker up` restarts it)"
    if request.get("program") not in programs:
        return f"it runs {', '.join(sorted(programs))}, not {request.get('program')!r}"
    if request.get("program") == "dbt":  # dbt reads its project and settings itself, at each run
        return ""
    theirs = settings_environment(request.get("env", {}))
    if theirs != environment:
        differ = sorted(k for k in theirs.keys() | environment.keys() if theirs.get(k) != environment.get(k))
        return f"the caller's settings differ from this process's: {', '.join(differ)}"
    return ""


def _run_fork(conn: socket.socket, request: dict[str, Any], fds: list[int], main: Callable[[], None]) -> None:
    """In the fork: become the caller's command, run it, report its exit status, exit."""
    code = 1
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[SERVED] = "1"
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the caller's, for the process's lifetime
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
        _send(conn, {"accepted": True, "pid": os.getpid()})
        threading.Thread(target=_relay_signals, args=(conn,), daemon=True).start()
        code = _run(main, request["program"], request["argv"])
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            _send(conn, {"exit": code})
        except (OSError, ValueError):
            pass
        os._exit(code)


def _relay_signals(conn: socket.socket) -> None:
    """The caller's Ctrl-C and SIGTERM, raised here; a caller gone away counts as SIGTERM."""
    while True:
        try:
            message = _receive(conn)
        except (OSError, ValueError):
            message = None
        name = message.get("signal") if message else "SIGTERM"
        if name == "SIGINT":
            signal.raise_signal(signal.SIGINT)
        elif name in ("SIGTERM", "SIGHUP"):  # the run ends as on SIGTERM: marked failed, dbt stopped
            signal.raise_signal(signal.SIGTERM)
        if message is None:
            return


def _run(main: Callable[[], None], program: str, argv: list[str]) -> int:
    sys.argv = [program, *argv]
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # a crash is printed as the CLI would print it, on the caller's terminal
        import traceback

        traceback.print_exc()
        return 1
    return 0


def _ours(settings: Settings) -> Any:
    from tracktracker_assets.services.processes import runs

    return runs(Path(sys.executable).name, "-m", SERVER_MODULE, env={"TRACKTRACKER_HOME": str(settings.home)})


def start(settings: Settings, environ: dict[str, str] | None = None) -> bool:
    """Start the command process in the background unless one runs, in environ (by default this
    command's as it started); it is ready some seconds later (until then a command runs in its own
    process). True if one was started."""
    from tracktracker_assets.services.processes import start_background

    if running(settings) is not None:
        return False
    start_background(
        [sys.executable, "-m", SERVER_MODULE],
        pid_file=pid_file(settings),
        log_file=log_file(settings),
        env={**(environ or _caller_environment or os.environ), "TRACKTRACKER_HOME": str(settings.home)},
        cwd=REPO_ROOT,
    )
    return True


def ready(settings: Settings) -> bool:
    """The command process answers on its socket (it has warmed up)."""
    return _answers(socket_path(settings))


def _answers(path: Path) -> bool:
    """A process listens on the socket at path (a connection that asks nothing, which it ignores)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def running(settings: Settings) -> int | None:
    from tracktracker_assets.services.processes import read_pid

    return read_pid(pid_file(settings), find=_ours(settings))


def stop(settings: Settings) -> bool:
    """Stop the command process and any command it is running (their runs end as on SIGTERM)."""
    from tracktracker_assets.services.processes import stop_recorded

    stopped = stop_recorded(pid_file(settings), find=_ours(settings))
    socket_path(settings).unlink(missing_ok=True)
    return stopped
