"""Where a run's stdout and stderr go: Dagster's local compute logs (the files the Dagster UI shows),
copied to the process's own stdout and stderr by a thread instead of `tail` processes.

Dagster's LocalComputeLogManager mirrors each captured stream with a `tail -F` child, watched by a
second Python process that kills it once the run's process is gone. Four processes start with every
run, and a run killed before its watcher started (or together with it) leaves that `tail` following
the log for ever, with the run's environment (the warehouse's password among it). A thread ends with
its process, and costs no process start. The files and their layout are Dagster's, unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import IO, Any

from dagster import Field, StringSource
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.instance.ref import compute_logs_directory
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file

COPY_INTERVAL_S = 0.05  # how soon a line written in a run reaches the terminal (`tail -F`: at once)
CHUNK = 1 << 16


class ThreadMirroredComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager whose copy to the terminal is a thread. `base_dir` defaults to Dagster's
    own default, DAGSTER_HOME/storage."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {**super().config_type(), "base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> ThreadMirroredComputeLogManager:
        config = dict(config_value)
        if "base_dir" not in config:
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                raise RuntimeError(
                    "The compute logs' folder is DAGSTER_HOME/storage, and DAGSTER_HOME is not set: set "
                    "it (tracktracker sets it for its own processes) or give compute_logs a base_dir in "
                    "dagster.yaml."
                )
            config["base_dir"] = compute_logs_directory(home)  # Dagster's own default
        return cls(inst_data=inst_data, **config)

    @contextmanager
    def capture_logs(self, log_key: list[str]) -> Generator[CapturedLogContext, None, None]:
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        with mirrored_to_file(sys.stdout, outpath), mirrored_to_file(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        # as Dagster's: the artifact that says the capture is complete
        touch_file(self.complete_artifact_path(log_key))


@contextmanager
def mirrored_to_file(stream: IO[str], path: str) -> Iterator[None]:
    """Within it, what the process writes to `stream` (its file descriptor, so child processes' output
    too) goes to the file at `path`, and a thread copies the file to where `stream` pointed before."""
    ensure_file(path)
    try:
        target = os.dup(stream.fileno())
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a test's capture)
        with redirect_to_file(stream, path):
            yield
        return
    done = threading.Event()
    copier = threading.Thread(target=_copy, args=(path, target, done), name="compute-log-copy", daemon=True)
    copier.start()
    try:
        with redirect_to_file(stream, path):
            yield
    finally:
        done.set()  # the file is complete: the copier writes what is left, then ends
        # not longer than this for a terminal that reads nothing; the copier closes `target` itself
        # (closed here, its number could be another file's by the copier's next write)
        copier.join(timeout=10)


def _copy(path: str, target: int, done: threading.Event) -> None:
    """The file's bytes from its start (as `tail -c +0`), to `target`, until `done` and the file's end;
    then closes `target`."""
    try:
        with open(path, "rb") as source:
            while True:
                finished = done.is_set()  # read before the last pass: nothing is written after it is set
                chunk = source.read(CHUNK)
                if chunk:
                    _write_all(target, chunk)
                elif finished:
                    return
                else:
                    done.wait(COPY_INTERVAL_S)
    except OSError:  # the terminal went away (a caller killed): the file keeps it all
        return
    finally:
        os.close(target)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
