"""dbt's debug events not built when no log takes them (a refresh's dbt in the command process).

dbt makes an event for each statement, connection and step of every node (~40 a node, ~1,200 in a
refresh of 29 nodes), and each one costs its protobuf message, built from a dict in Python, then an
envelope with a timestamp, before the loggers' level drops it. At the default `info` log level nearly
all of them are debug events nobody reads, and building them was ~20% of a small refresh's dbt time,
all of it holding the GIL the nodes' threads share.

`skip_unlogged_events()` changes two things in this process's dbt:
- an event's message is built when first read instead of when the event is made;
- an event is dropped before it is read when its level (as fired) is debug and every log takes only
  info or above, and nothing else listens (dbt's own usage-tracking callback reads only its warnings).
Every event a log would write, a warning dbt may turn into an error, and every event of a `debug`
log is built and fired as before.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache  # once per process
def skip_unlogged_events() -> None:
    """Install both changes in this process (once; a dbt whose events differ is left as it is)."""
    try:
        from dbt.tracking import track_behavior_change_warn
        from dbt_common.events.base_types import BaseEvent, EventLevel
        from dbt_common.events.event_manager import EventManager
    except ImportError:
        return
    unlogged = frozenset({EventLevel.DEBUG, EventLevel.TEST})  # written only by a log at debug
    blind_to_debug = frozenset({track_behavior_change_warn})  # reacts to BehaviorChangeEvent (a warning) only
    build_message = BaseEvent.__init__
    fire = EventManager.fire_event

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_unbuilt", (args, kwargs))

    def __getattr__(self: Any, key: str) -> Any:
        if key == "pb_msg":  # first read: the message is built now, as dbt would have built it
            args, kwargs = object.__getattribute__(self, "_unbuilt")
            build_message(self, *args, **kwargs)
            return object.__getattribute__(self, "pb_msg")
        return getattr(self.pb_msg, key)

    def __setattr__(self: Any, key: str, value: Any) -> None:
        if key == "pb_msg":
            object.__setattr__(self, key, value)
        else:
            setattr(self.pb_msg, key, value)

    def fire_event(
        self: Any, e: Any, level: Any = None, node: Any = None, force_warn_or_error_handling: bool = False
    ) -> None:
        if (
            not force_warn_or_error_handling
            and (level or e.level_tag()) in unlogged
            and all(logger.level not in unlogged for logger in self.loggers)
            and all(callback in blind_to_debug for callback in self.callbacks)
        ):
            return
        fire(self, e, level, node, force_warn_or_error_handling)

    BaseEvent.__init__ = __init__  # type: ignore[method-assign]
    BaseEvent.__getattr__ = __getattr__  # type: ignore[method-assign]
    BaseEvent.__setattr__ = __setattr__  # type: ignore[method-assign]
    EventManager.fire_event = fire_event  # type: ignore[method-assign]
