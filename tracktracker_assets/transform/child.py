"""`tracktracker-dbt`: dbt, bound to the process that starts it.

dagster-dbt starts dbt as a plain child process. When that parent is killed outright (SIGKILL, OOM),
nothing stops the child: it went on writing gold for minutes without the build lock the parent held.
This entry point asks Linux to kill it when its parent dies (PR_SET_PDEATHSIG, kept across exec),
then becomes dbt itself. The transaction dbt had open is rolled back by PostgreSQL, so gold keeps
what the last finished models wrote and the next build completes it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PARENT_ENV = "TRACKTRACKER_DBT_PARENT"  # the PID the parent expects to be ours (set by the caller)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    # the parent may have died before prctl: then we were already re-parented
    expected = os.environ.get(PARENT_ENV)
    if expected and expected.isdigit() and os.getppid() != int(expected):
        sys.exit("tracktracker-dbt: the process that started dbt is gone; not starting dbt.")


def _run_in_command_process() -> None:
    """dbt in a fork of the command process (services/command_process.py) when `up` started one for
    this code: it has dbt imported already. This process stays dbt's stand-in: its exit status is dbt's, its
    signals are passed on, and when it dies the fork is ended too."""
    if not os.environ.get("TRACKTRACKER_HOME"):
        return
    from tracktracker_assets.services import command_process
    from tracktracker_assets.settings import get_settings

    served = command_process.hand_over(get_settings(), sys.argv[1:], program="dbt")
    if served is not None:
        sys.exit(served)


def real_dbt() -> str:
    return str(Path(sys.executable).parent / "dbt")


def main() -> None:
    _die_with_parent()
    _run_in_command_process()
    dbt = real_dbt()
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
