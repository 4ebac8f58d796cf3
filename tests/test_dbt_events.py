"""A refresh's dbt in the command process builds no debug event that no log takes
(transform/unlogged_events.py), and nothing else of what dbt logs or tells its listeners changes: an
event is written as before by every log whose level takes it, promoted events and warnings are
fired, and an event's fields read and change as before."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from dbt.adapters.events.types import SQLQuery
from dbt.tracking import track_behavior_change_warn
from dbt_common.events.base_types import BaseEvent, EventLevel
from dbt_common.events.event_manager import EventManager
from dbt_common.events.logger import LoggerConfig
from dbt_common.events.types import Note

from tracktracker_assets.transform import unlogged_events


@pytest.fixture
def installed(monkeypatch, request) -> Iterator[None]:
    """The change installed in this test only: dbt's classes as they were afterwards."""
    for name in ("__init__", "__getattr__", "__setattr__"):
        monkeypatch.setattr(BaseEvent, name, BaseEvent.__dict__[name])
    monkeypatch.setattr(EventManager, "fire_event", EventManager.fire_event)
    unlogged_events.skip_unlogged_events.cache_clear()  # installed anew here; any later call, again
    request.addfinalizer(unlogged_events.skip_unlogged_events.cache_clear)
    unlogged_events.skip_unlogged_events()
    yield


def manager(level: EventLevel) -> tuple[EventManager, io.StringIO]:
    """An event manager as dbt sets one up: a log at `level` and dbt's own usage callback."""
    written = io.StringIO()
    events = EventManager()
    events.add_logger(LoggerConfig(name=f"test-{level}", level=level, output_stream=written))
    events.add_callback(track_behavior_change_warn)
    return events, written


def statement(sql: str) -> SQLQuery:
    return SQLQuery(conn_name="model.tracktracker.fct_plays", sql=sql, node_info={})


def test_a_debug_event_no_log_takes_is_never_built(installed) -> None:
    events, written = manager(EventLevel.INFO)
    event = statement("select 'skipped'")
    events.fire_event(event)
    assert "pb_msg" not in vars(event)  # its message was never built
    events.fire_event(Note(msg="a model's result"))
    events.fire_event(statement("select 'promoted'"), level=EventLevel.INFO)  # fired at info: written
    lines = [line.split("  ", 1)[1] for line in written.getvalue().splitlines()]  # after the time
    assert lines == ["a model's result", "On model.tracktracker.fct_plays: select 'promoted'"]


def test_a_log_at_debug_gets_every_debug_event(installed) -> None:
    events, written = manager(EventLevel.DEBUG)
    events.fire_event(statement("select 1"))
    assert "select 1" in written.getvalue()


def test_a_listener_of_our_own_gets_every_event(installed) -> None:
    events, written = manager(EventLevel.INFO)
    heard: list[str] = []
    events.add_callback(lambda msg: heard.append(msg.info.name))
    events.fire_event(statement("select 1"))
    assert heard == ["SQLQuery"] and written.getvalue() == ""


def test_an_events_fields_read_and_change_as_before(installed) -> None:
    event = statement("select 1")
    assert event.sql == "select 1" and event.conn_name == "model.tracktracker.fct_plays"
    event.sql = "select 2"
    assert event.pb_msg.sql == "select 2" and event.to_dict()["sql"] == "select 2"
    assert event.level_tag() == EventLevel.DEBUG and "select 2" in event.message()


def test_installed_twice_is_installed_once(installed) -> None:
    fire = EventManager.fire_event
    unlogged_events.skip_unlogged_events()
    assert EventManager.fire_event is fire
