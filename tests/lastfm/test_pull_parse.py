"""Last.fm's real pages read by the pull, without a database: the now-playing row is skipped, one result
as an object is one scrobble, every number a string; counts from a plain reading of the samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.lastfm.conftest import SAMPLES
from tracktracker_assets.lastfm.pull import _scrobbles, track_key
from tracktracker_assets.warehouse.livepulls import LiveFault

PAGES = (
    "duhnnie--user.getRecentTracks.json",
    "duhnnie--user.getExtendedRecentTracks.json",
    "inflatablefriends--UserGetRecentTracksSingle.json",
)


def plain_reading(name: str) -> tuple[list[int], int]:
    """Independent of the product: the uts of every dated track, and totalPages, read by hand."""
    recent = json.loads((SAMPLES / name).read_text())["recenttracks"]
    tracks = recent["track"] if isinstance(recent["track"], list) else [recent["track"]]
    return [int(t["date"]["uts"]) for t in tracks if "date" in t], int(recent["@attr"]["totalPages"])


@pytest.mark.parametrize("name", PAGES)
def test_real_pages_give_their_dated_scrobbles(name: str) -> None:
    body = json.loads((SAMPLES / name).read_text())
    received, total_pages = _scrobbles(body, 1)
    expected, expected_pages = plain_reading(name)
    assert [int(r.at.timestamp()) for r in received] == expected
    assert total_pages == expected_pages
    assert all(r.item.get("@attr", {}).get("nowplaying") is None for r in received)
    assert all(r.at.tzinfo is UTC for r in received)


def test_now_playing_is_not_a_scrobble_and_dates_are_exact() -> None:
    received, _ = _scrobbles(json.loads((SAMPLES / PAGES[0]).read_text()), 1)
    assert [r.item["name"] for r in received] == ["Mountains", "What We Came Here For"]
    assert received[0].at == datetime(2023, 10, 15, 14, 51, 5, tzinfo=UTC)  # uts 1697381465


def test_track_key_ignores_everything_but_the_names() -> None:
    plain = json.loads((SAMPLES / PAGES[0]).read_text())["recenttracks"]["track"][1]
    changed = {**plain, "image": [], "loved": "1", "streamable": "1"}
    assert track_key(plain) == track_key(changed)
    assert track_key(plain) != track_key({**plain, "name": "Mountains (Live)"})
    extended = json.loads((SAMPLES / PAGES[1]).read_text())["recenttracks"]["track"][1]
    # the extended vintage names the artist in `name`, not `#text`: still a key of the names
    assert track_key(extended) == track_key({**extended, "artist": {"#text": extended["artist"]["name"]}})


def test_an_undated_item_that_is_not_now_playing_refuses_the_page() -> None:
    body = {
        "recenttracks": {"track": [{"name": "x", "artist": {"#text": "y"}}], "@attr": {"totalPages": "1"}}
    }
    with pytest.raises(LiveFault, match=r"item 1 has no date\.uts"):
        _scrobbles(body, 3)


def test_no_scrobbles_at_all() -> None:
    for tracks in ([], None):
        body = {"recenttracks": {"@attr": {"totalPages": "0", "page": "1"}}}
        if tracks is not None:
            body["recenttracks"]["track"] = tracks
        assert _scrobbles(body, 1) == ([], 0)
