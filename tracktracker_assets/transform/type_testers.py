"""dbt's result tables reuse their column type testers (a refresh's dbt in the command process).

dbt turns every result it fetches (each lookup of a relation's columns: several per model) into an
agate table, and makes a new type tester for it whenever a column holds text: seven type objects,
three of which build a date parser's locale tables (~6% of a small refresh's dbt time). A tester
keeps nothing of the tables it typed, so the one made for a set of text columns is used again for
the next table with the same set.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any


@functools.cache  # once per process
def reuse_type_testers() -> None:
    """Make dbt build one type tester per set of text columns in this process (installed once)."""
    from dbt_common.clients import agate_helper

    build = agate_helper.build_type_tester
    made: dict[tuple[frozenset[str], tuple[str, ...] | None], Any] = {}

    def build_type_tester(
        text_columns: Iterable[str], string_null_values: Iterable[str] | None = ("null", "")
    ) -> Any:
        columns = frozenset(text_columns)
        key = (columns, None if string_null_values is None else tuple(string_null_values))
        tester = made.get(key)
        if tester is None:
            tester = made[key] = build(columns, string_null_values)
        return tester

    agate_helper.build_type_tester = build_type_tester
