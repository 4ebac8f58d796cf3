"""dbt names each behaviour flag's source without reading source files (a refresh's dbt in the
command process).

Each dbt invocation registers its adapter, and the adapter renders its behaviour flags; each flag
names its source (the first module on the call stack other than dbt's own flag module) with
`inspect.stack()` and `inspect.getmodule()`: the first reads a few lines of source around every
frame of the stack (~60 deep there), the second maps every loaded module to its file before it can
name one. In a new process or a fork, the three flags cost ~70 ms of each refresh's dbt start, on its
way to the first model. The module a frame runs in is also the `__name__` of its globals: the same
walk over the frames, asking that, names the same module in well under a millisecond.
"""

from __future__ import annotations

import functools
import sys


@functools.cache  # once per process
def name_flag_sources_without_reading_code() -> None:
    """Install the walk in this process's dbt (once; a dbt without the method is left as it is)."""
    try:
        from dbt_common import behavior_flags
    except ImportError:
        return
    rendered = getattr(behavior_flags, "BehaviorFlagRendered", None)
    if rendered is None or not hasattr(rendered, "_default_source"):
        return
    own = behavior_flags.__name__

    def _default_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and name != own:
                return name
            frame = frame.f_back
        return "Unknown"

    rendered._default_source = staticmethod(_default_source)
