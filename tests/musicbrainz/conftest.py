"""The fake MusicBrainz wired into the product's settings (a contact for the User-Agent, the fake's URL)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.fakes.musicbrainz_server import FakeMusicBrainz

ENV = ("TRACKTRACKER_MUSICBRAINZ_URL", "TRACKTRACKER_MUSICBRAINZ_CONTACT", "TRACKTRACKER_MUSICBRAINZ_BUDGET")
CONTACT = "tracktracker-tests@example.org"


@pytest.fixture(scope="module")
def musicbrainz(settings) -> Iterator[FakeMusicBrainz]:
    saved = {k: os.environ.get(k) for k in ENV}
    with FakeMusicBrainz() as server:
        os.environ.update(
            {"TRACKTRACKER_MUSICBRAINZ_URL": server.url, "TRACKTRACKER_MUSICBRAINZ_CONTACT": CONTACT}
        )
        yield server
        assert server.internal_errors == []
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def closest_requests_s(server: FakeMusicBrainz) -> float:
    """The shortest time between two requests the fake received (inf with fewer than two)."""
    times = sorted(r.at for r in server.requests)
    return min((b - a for a, b in itertools.pairwise(times)), default=float("inf"))
