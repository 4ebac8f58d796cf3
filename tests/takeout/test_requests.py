"""Takeouts asked for on the upload page: one request per listener, in their own folder, never a path
outside it; the orchestrator's run key changes only when someone asks (again)."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from tracktracker_assets.settings import Settings, get_settings
from tracktracker_assets.takeout.requests import (
    fulfil_requests,
    request_key,
    request_takeout,
    takeout_root,
    takeout_state,
    users_with_requests,
)


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return replace(get_settings(), home=tmp_path)


def test_a_request_is_the_listeners_own_and_replaces_a_waiting_download(home: Settings) -> None:
    assert users_with_requests(home) == [] and request_key(home) == ""
    request_takeout(home, "alice", "parquet")
    folder = takeout_root(home) / "alice"
    assert stat.S_IMODE((folder / "request.json").stat().st_mode) == 0o600
    assert json.loads((folder / "request.json").read_text())["format"] == "parquet"
    assert users_with_requests(home) == ["alice"]
    assert (
        takeout_state(home, "alice").requested == "parquet" and takeout_state(home, "bob").requested is None
    )

    key = request_key(home)
    assert key == request_key(home)  # the same request: the orchestrator starts no second run
    (folder / "tracktracker-alice-20260101-csv.zip").write_bytes(b"PK")  # an earlier one, not downloaded
    assert takeout_state(home, "alice").ready is not None
    request_takeout(home, "alice", "json")  # asked again: a new run, and the old ZIP is gone
    assert request_key(home) != key
    assert takeout_state(home, "alice").ready is None and takeout_state(home, "alice").requested == "json"


@pytest.mark.parametrize("user_id", ["../alice", "alice/../bob", "", ".", "..", "/etc", "Alice"])
def test_no_path_outside_the_listeners_folder(home: Settings, user_id: str) -> None:
    with pytest.raises(ValueError, match="expected a registry user id"):
        request_takeout(home, user_id, "csv")
    with pytest.raises(ValueError, match="expected a registry user id"):
        takeout_state(home, user_id)
    assert not takeout_root(home).exists() or not any(takeout_root(home).rglob("*"))


def test_an_unknown_format_is_refused(home: Settings) -> None:
    with pytest.raises(ValueError, match="expected one of csv, json, parquet"):
        request_takeout(home, "alice", "xlsx")
    assert users_with_requests(home) == []


def test_a_takeout_that_cannot_be_built_says_why_and_asking_again_retries(home: Settings) -> None:
    unreachable = replace(home, database_url_override="postgresql://nobody:x@127.0.0.1:9/none")
    request_takeout(unreachable, "alice", "csv")
    with pytest.raises(RuntimeError, match=r"takeouts not built .* alice: OperationalError"):
        fulfil_requests(unreachable)
    state = takeout_state(unreachable, "alice")
    assert state.ready is None and state.requested is None and "OperationalError" in (state.failed or "")
    assert users_with_requests(unreachable) == []  # not retried forever
    request_takeout(unreachable, "alice", "csv")
    assert takeout_state(unreachable, "alice").failed is None
    assert users_with_requests(unreachable) == ["alice"]
