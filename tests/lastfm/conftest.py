"""The fake Last.fm wired into the product's settings, and the real samples' items as templates."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REAL_DATA, disconnect_everyone
from tests.fakes.lastfm_server import API_KEY, FakeLastfm

SAMPLES = REAL_DATA / "other-platforms"
ENV = ("TRACKTRACKER_LASTFM_API_KEY", "TRACKTRACKER_LASTFM_API_URL", "TRACKTRACKER_LIVE_MAX_PAGES")


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def templates() -> list[dict[str, Any]]:
    """Every track item of the real pages (plain, extended, single-object vintage)."""
    items = []
    for name in (
        "duhnnie--user.getRecentTracks.json",
        "duhnnie--user.getExtendedRecentTracks.json",
        "inflatablefriends--UserGetRecentTracksSingle.json",
    ):
        tracks = sample(name)["recenttracks"]["track"]
        items += tracks if isinstance(tracks, list) else [tracks]
    return items


@pytest.fixture(scope="module")
def lastfm(settings) -> Iterator[FakeLastfm]:
    saved = {k: os.environ.get(k) for k in ENV}
    with FakeLastfm() as server:
        os.environ.update(
            {
                "TRACKTRACKER_LASTFM_API_KEY": API_KEY,
                "TRACKTRACKER_LASTFM_API_URL": server.url,
                "TRACKTRACKER_LIVE_MAX_PAGES": "50",
            }
        )
        yield server
        assert server.internal_errors == []
    disconnect_everyone("lastfm")
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
