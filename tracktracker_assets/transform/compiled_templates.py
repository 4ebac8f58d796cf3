"""The dbt project's Jinja compiled once in the command process, for every refresh's dbt in its forks.

dbt compiles Jinja source to Python code each time it uses it: the macros it calls (its
materializations, the adapter's, ours) once per process, and each node's SQL and hooks once per
node, every build. A refresh's dbt runs in a new fork of the command process, so all of it was
compiled again at each refresh (~0.35 s of a small one). The command process compiles it all
while it warms up, and every fork inherits the result.

Compiled code depends only on the source text (and whether dbt renders it natively), so both caches
are keyed by the source: they hold nothing dbt would not have compiled from the same text, and a
changed file is a new key. A source that does not compile is left to dbt, which reports it where it
is used, as before.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

_codes: dict[tuple[str, bool], CodeType] = {}


def compile_project(manifest: Any) -> int:
    """Compile the manifest's macros, and its nodes' SQL and hooks; returns how many sources."""
    import dbt.clients.jinja as dbt_jinja
    from dbt_common.clients.jinja import template_cache

    _keep_compiled_code()
    compiled = 0
    for macro in manifest.macros.values():
        compiled += _compiles(template_cache.get_node_template, macro)
    for node in manifest.nodes.values():
        config = getattr(node, "config", None)
        hooks = [*getattr(config, "pre_hook", []), *getattr(config, "post_hook", [])]
        for source in [getattr(node, "raw_code", ""), *(hook.sql for hook in hooks)]:
            if source:
                compiled += _compiles(dbt_jinja.get_template, source, {}, node)
    return compiled


def _compiles(compile_source: Any, *args: Any) -> int:
    try:
        compile_source(*args)
    except Exception:  # dbt raises it again where the source is used
        return 0
    return 1


@functools.cache  # once per process
def _keep_compiled_code() -> None:
    """dbt's template for a node's SQL or a hook is made from code compiled once per source."""
    import dbt.clients.jinja as dbt_jinja
    from dbt_common.clients.jinja import catch_jinja, get_environment

    compile_every_time = dbt_jinja.get_template

    def get_template(
        string: Any, ctx: dict[str, Any], node: Any = None, capture_macros: bool = False, native: bool = False
    ) -> Any:
        if capture_macros:  # parsing's templates: their undefined names are the node's own
            return compile_every_time(string, ctx, node, capture_macros=capture_macros, native=native)
        source = str(string)
        with catch_jinja(node):
            env = get_environment(node, capture_macros, native=native)
            code = _codes.get((source, native))
            if code is None:
                code = _codes[(source, native)] = env.compile(source)
            # what env.from_string(source, globals=ctx) makes, with the compiling done
            return env.template_class.from_code(env, code, env.make_globals(ctx), None)

    dbt_jinja.get_template = get_template
