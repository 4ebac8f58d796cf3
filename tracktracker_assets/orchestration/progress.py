"""Progress of long work, for whoever is watching: the CLI registers a listener, assets report.

Dagster runs started by the CLI execute in the CLI's own process, so a listener here is how
`tracktracker import` shows a live progress display while the same code logs to Dagster in a run
launched by the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    stage: str  # "load" | "dbt"
    name: str  # file or model name
    done: int  # records read / models finished
    total: int | None = None  # bytes or models, when known
    detail: str = ""


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def report(event: Event) -> None:
    for listener in list(_listeners):
        listener(event)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
