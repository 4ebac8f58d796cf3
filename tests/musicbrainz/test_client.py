"""The MusicBrainz client through musicbrainzngs against the fake: the three kinds of lookup, an
unknown recording remembered as not found, one request per second, a named User-Agent, a 503 retried."""

from __future__ import annotations

import socket
import time

import musicbrainzngs.musicbrainz as musicbrainz_module
import pytest

from tests.fakes.musicbrainz_server import recording
from tests.musicbrainz.conftest import CLOSEST_S, CONTACT, closest_requests_s, mean_interval_s
from tracktracker_assets.musicbrainz.client import Lookup, MusicBrainzClient, MusicBrainzUnavailable
from tracktracker_assets.settings import get_settings

SHEERAN = "cb2cc207-8125-445c-9ef9-6ea44eee959a"  # the real sample's recording


def test_lookups_by_mbid_isrc_and_search_one_per_second(musicbrainz) -> None:
    musicbrainz.add(
        recording(
            SHEERAN,
            "Thinking Out Loud",
            "Ed Sheeran",
            first_release_date="2014-06-20",
            tags={"pop": 3, "blue-eyed soul": 1},
            isrcs=("GBAHS1400099",),
        )
    )
    client = MusicBrainzClient(get_settings())
    by_id = client.fetch(Lookup(f"mbid:{SHEERAN}"))
    assert by_id.status == "ok" and by_id.payload["id"] == SHEERAN
    assert by_id.payload["first-release-date"] == "2014-06-20"
    by_isrc = client.fetch(Lookup("isrc:GBAHS1400099"))
    assert by_isrc.status == "ok" and [r["id"] for r in by_isrc.payload["recordings"]] == [SHEERAN]
    searched = client.fetch(Lookup("search:ed sheeran\tthinking out loud"))
    assert [r["id"] for r in searched.payload["recordings"]] == [SHEERAN]
    assert searched.payload["recordings"][0]["score"] == 100
    nothing = client.fetch(Lookup("search:ed sheeran\tno such song"))
    assert nothing.status == "ok" and nothing.payload["recordings"] == []
    unknown = client.fetch(Lookup("mbid:00000000-0000-4000-8000-000000000000"))
    assert unknown == type(unknown)("not_found", None)

    assert len(musicbrainz.requests) == 5 and all(r.status != 503 for r in musicbrainz.requests)
    # musicbrainzngs' limiter: never over the rate, whatever held a request up on its way
    assert closest_requests_s(musicbrainz) >= CLOSEST_S and mean_interval_s(musicbrainz) >= 1.0
    assert all(
        CONTACT in (r.user_agent or "") and "TrackTracker" in (r.user_agent or "")
        for r in musicbrainz.requests
    )
    paths = [r.path for r in musicbrainz.requests]
    assert paths[0] == f"/ws/2/recording/{SHEERAN}" and all(p.startswith("/ws/2/recording") for p in paths)


def test_an_overloaded_answer_is_retried_and_a_missing_contact_refused(musicbrainz, monkeypatch) -> None:
    musicbrainz.requests.clear()
    musicbrainz.unavailable = 1  # one 503, as the real service answers when overloaded
    answer = MusicBrainzClient(get_settings()).fetch(Lookup(f"mbid:{SHEERAN}"))
    assert answer.status == "ok"
    assert [r.status for r in musicbrainz.requests] == [503, 200]

    monkeypatch.delenv("TRACKTRACKER_MUSICBRAINZ_CONTACT")
    with pytest.raises(MusicBrainzUnavailable, match="TRACKTRACKER_MUSICBRAINZ_CONTACT"):
        MusicBrainzClient(get_settings())


def test_a_server_that_never_answers_stops_the_lookup_in_time(monkeypatch) -> None:
    """A server that accepts the connection and never answers: the request times out (the library
    sets none of its own) and the lookup stops as unavailable, to resume next run."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody ever reads or answers
        monkeypatch.setenv("TRACKTRACKER_MUSICBRAINZ_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("TRACKTRACKER_MUSICBRAINZ_CONTACT", CONTACT)
        monkeypatch.setenv("TRACKTRACKER_MUSICBRAINZ_TIMEOUT_S", "1")
        # musicbrainzngs tries a timed-out request 8 times with growing pauses (about a minute and a
        # half at the default timeout); one try shows the same here
        monkeypatch.setattr(musicbrainz_module._safe_read, "__defaults__", (None, 1, 0.0))
        started = time.monotonic()
        with pytest.raises(MusicBrainzUnavailable, match="did not answer"):
            MusicBrainzClient(get_settings()).fetch(Lookup(f"mbid:{SHEERAN}"))
        assert 0.9 < time.monotonic() - started < 10
    assert socket.getdefaulttimeout() is None  # the process's default is put back


def test_the_fake_refuses_a_client_faster_than_one_request_a_second() -> None:
    """The rule the client's pacing is tested against: back to back, or steadily a little too fast,
    a client is answered 503 as the real service answers it."""
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    from tests.fakes.musicbrainz_server import FakeMusicBrainz

    def statuses(fake: FakeMusicBrainz, pause_s: float, count: int) -> list[int]:
        """`count` requests sent `pause_s` apart, by the clock: a slow answer does not space the
        next request further (on a busy machine, sleeping the pause after each answer sent them more
        than a second apart)"""
        got = []
        start = time.monotonic()
        for sent in range(1, count + 1):
            request = Request(
                f"{fake.url}/ws/2/recording/{SHEERAN}?fmt=json", headers={"User-Agent": CONTACT}
            )
            try:
                with urlopen(request, timeout=10) as answer:
                    got.append(answer.status)
            except HTTPError as refused:
                got.append(refused.code)
            time.sleep(max(0.0, start + sent * pause_s - time.monotonic()))
        return got

    with FakeMusicBrainz() as fake:
        fake.add(recording(SHEERAN, "Thinking Out Loud", "Ed Sheeran", first_release_date="2014-06-20"))
        assert statuses(fake, 0.0, 2) == [200, 503]
    with FakeMusicBrainz() as fake:  # 0.85 s apart: within the jitter allowed twice, not every time
        fake.add(recording(SHEERAN, "Thinking Out Loud", "Ed Sheeran", first_release_date="2014-06-20"))
        assert 503 in statuses(fake, 0.85, 6)
