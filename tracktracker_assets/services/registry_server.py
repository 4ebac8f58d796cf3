"""The embedded registry server's program: SecantusDB's own command line (`secantusd-py`), with a stop
that does not wait out its accept thread.

SecantusDB stops on SIGTERM by closing its listening socket and joining the thread blocked in
`accept()`, but on Linux a close from another thread does not wake that `accept()`: every stop waited
out the join's 2 s timeout before it closed the storage (a `down`, and the first start's provisioning
restart, each waited ~2.3 s for it). A shutdown of the socket does wake it (`accept()` fails, and the
thread ends as it does on a closed socket), so the stop here shuts the socket down first, then runs
SecantusDB's own stop: connections drained, transactions aborted, storage closed, as before.

Run as `python -m tracktracker_assets.services.registry_server ARGS`, ARGS as `secantusd-py` takes them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import Any


def _wake_accept_first(stop: Any) -> Any:
    def stop_promptly(server: Any) -> None:
        # a SecantusDB that names its socket otherwise stops as it always did
        listening = getattr(server, "_socket", None)
        if isinstance(listening, socket.socket):
            with contextlib.suppress(OSError):
                listening.shutdown(socket.SHUT_RDWR)
        stop(server)

    return stop_promptly


def main() -> int:
    from secantus import cli
    from secantus.server import SecantusDBServer

    SecantusDBServer.stop = _wake_accept_first(SecantusDBServer.stop)  # type: ignore[method-assign]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
