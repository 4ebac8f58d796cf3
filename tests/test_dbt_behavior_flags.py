"""dbt's behaviour flags in a refresh's dbt name their source by a walk over the stack's frames that
reads no source code (transform/behavior_flags.py): the same module as dbt's own way names."""

from __future__ import annotations

from dbt_common.behavior_flags import BehaviorFlagRendered

from tracktracker_assets.transform import behavior_flags

FLAG = {"name": "probe_flag", "default": False, "description": "a flag of this test's"}


def rendered_here() -> str:
    """The source a flag rendered from this module names (a few calls deep, as dbt's adapter is)."""

    def deeper(depth: int) -> str:
        if depth:
            return deeper(depth - 1)
        return BehaviorFlagRendered(FLAG, {})._behavior_change_event.flag_source

    return deeper(5)


def test_a_flag_names_the_same_source_without_reading_code(monkeypatch, request) -> None:
    dbts_own = BehaviorFlagRendered.__dict__["_default_source"]  # the staticmethod, put back after the test
    monkeypatch.setattr(BehaviorFlagRendered, "_default_source", dbts_own)
    behavior_flags.name_flag_sources_without_reading_code.cache_clear()  # installed anew here
    request.addfinalizer(behavior_flags.name_flag_sources_without_reading_code.cache_clear)
    by_dbt = rendered_here()
    behavior_flags.name_flag_sources_without_reading_code()
    assert BehaviorFlagRendered.__dict__["_default_source"] is not dbts_own
    assert rendered_here() == by_dbt == __name__
    # a flag given its source keeps it
    given = BehaviorFlagRendered({**FLAG, "source": "dbt-postgres"}, {})
    assert given._behavior_change_event.flag_source == "dbt-postgres"
