"""The fake MusicBrainz wired into the product's settings (a contact for the User-Agent, the fake's URL)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.fakes.musicbrainz_server import JITTER_S, FakeMusicBrainz

ENV = ("TRACKTRACKER_MUSICBRAINZ_URL", "TRACKTRACKER_MUSICBRAINZ_CONTACT", "TRACKTRACKER_MUSICBRAINZ_BUDGET")
CONTACT = "tracktracker-tests@example.org"
# the closest two requests may arrive, sent a second apart or more (the fake's rule)
CLOSEST_S = 1.0 - JITTER_S


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
    """The shortest time between the arrivals of two requests at the fake (inf with fewer than two)."""
    times = sorted(r.at for r in server.requests)
    return min((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


def mean_interval_s(server: FakeMusicBrainz) -> float:
    """The mean time between the arrivals of the fake's requests: a request held up on its way arrives
    closer to the next, but every hold-up between the first and the last cancels out."""
    times = sorted(r.at for r in server.requests)
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("inf")
