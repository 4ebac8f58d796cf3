"""The fake ListenBrainz wired into the product's settings, and the real samples' listens as templates."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REAL_DATA, disconnect_everyone
from tests.fakes.listenbrainz_server import FakeListenBrainz

SAMPLES = REAL_DATA / "other-platforms"
HAPPY_PATH = SAMPLES / "metabrainz--get_listens_happy_path_response.json"
EXPORT_LINES = SAMPLES / "metabrainz--listenbrainz_listens.jsonl"
ENV = ("TRACKTRACKER_LISTENBRAINZ_API_URL", "TRACKTRACKER_LIVE_MAX_PAGES", "TRACKTRACKER_LIVE_MAX_WAIT_S")


def templates() -> list[dict[str, Any]]:
    """The API sample's 25 listens (2020, `listening_from`) and the export's two (2025, `music_service`,
    `mbid_mapping`, the message id inside track_metadata)."""
    listens = json.loads(HAPPY_PATH.read_text())["payload"]["listens"]
    return listens + [json.loads(line) for line in EXPORT_LINES.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def listenbrainz(settings) -> Iterator[FakeListenBrainz]:
    saved = {k: os.environ.get(k) for k in ENV}
    with FakeListenBrainz() as server:
        os.environ.update(
            {
                "TRACKTRACKER_LISTENBRAINZ_API_URL": server.url,
                "TRACKTRACKER_LIVE_MAX_PAGES": "50",
                "TRACKTRACKER_LIVE_MAX_WAIT_S": "5",
            }
        )
        yield server
        assert server.internal_errors == []
    disconnect_everyone("listenbrainz")
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
