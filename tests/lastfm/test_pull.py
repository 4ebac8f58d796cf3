"""Last.fm pulls against the fake service over real HTTP: paging, the now-playing row, re-pulls, a
private profile, an unknown user and the rate limit, each stored (or not) in bronze and the pull log."""

from __future__ import annotations

import requests

from tests.fakes.lastfm_server import FakeLastfm
from tests.lastfm.conftest import templates
from tracktracker_assets.lastfm.pull import pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings

BASE = 1_700_000_000


def listener(user_id: str, name: str) -> None:
    with open_registry(get_settings()) as registry:
        if registry.get_user(user_id) is None:
            registry.add_user(user_id, timezone="Europe/Madrid")
        registry.connect_lastfm(user_id, name)


def run(conn, user_id: str, sleeps: list[float] | None = None):
    with open_registry(get_settings()) as registry, requests.Session() as http:
        return pull(
            get_settings(), conn, registry, user_id, http, sleep=(sleeps if sleeps is not None else []).append
        )


def held(conn, user_id: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "select extract(epoch from scrobbled_at)::bigint, item ->> 'name' "
            "from bronze.lastfm_recent_tracks where user_id = %s order by scrobbled_at",
            (user_id,),
        )
        rows = cur.fetchall()
    conn.rollback()
    return rows


def pull_log(conn, user_id: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "select status, pages, items, inserted, message from bronze.lastfm_pulls "
            "where user_id = %s order by pulled_at",
            (user_id,),
        )
        rows = cur.fetchall()
    conn.rollback()
    return rows


def test_paging_now_playing_and_re_pulls(lastfm: FakeLastfm, conn) -> None:
    items = templates()
    lastfm.add_user("PagedOne")
    for n in range(450):  # 200 a page: three pages
        lastfm.scrobble("PagedOne", items[n % len(items)], BASE + 60 * n)
    lastfm.set_now_playing("PagedOne", items[0])
    listener("paged", "PagedOne")

    first = run(conn, "paged")
    assert (first.status, first.pages, first.items, first.inserted) == ("ok", 3, 450, 450)
    rows = held(conn, "paged")
    assert [at for at, _ in rows] == [BASE + 60 * n for n in range(450)]  # the now-playing row is not one
    assert [r["page"] for r in lastfm.recent_requests("PagedOne")] == ["1", "2", "3"]
    assert all("from" not in r and r["format"] == "json" for r in lastfm.recent_requests("PagedOne"))

    again = run(conn, "paged")  # nothing new: asks from the newest held + 1 s, adds nothing
    assert (again.status, again.items, again.inserted) == ("ok", 0, 0)
    assert lastfm.recent_requests("PagedOne")[-1]["from"] == str(BASE + 60 * 449 + 1)

    for n in range(450, 455):
        lastfm.scrobble("PagedOne", items[n % len(items)], BASE + 60 * n)
    newer = run(conn, "paged")
    assert (newer.items, newer.inserted) == (5, 5) and len(held(conn, "paged")) == 455
    assert [s for s, *_ in pull_log(conn, "paged")] == ["ok", "ok", "ok"]


def test_one_scrobble_comes_as_an_object(lastfm: FakeLastfm, conn) -> None:
    lastfm.add_user("Single")
    lastfm.scrobble("Single", templates()[-1], BASE)  # the 2014 single-object vintage's item
    listener("single", "Single")
    outcome = run(conn, "single")
    assert (outcome.status, outcome.inserted) == ("ok", 1)
    assert held(conn, "single") == [(BASE, "Super Freak (Part 1) - 1981 Single Version")]


def test_private_profile_is_a_problem_until_a_good_pull(lastfm: FakeLastfm, conn) -> None:
    lastfm.add_user("Hidden", private=True)
    lastfm.scrobble("Hidden", templates()[1], BASE)
    listener("hidden", "Hidden")
    outcome = run(conn, "hidden")
    assert outcome.status == "failed" and "hides its recent listening" in outcome.message
    assert held(conn, "hidden") == []
    with open_registry(get_settings()) as registry:
        assert "Last.fm: the Last.fm profile Hidden hides" in registry.require_user("hidden").problems
    lastfm.users["hidden"].private = False  # the listener made it public
    assert (run(conn, "hidden").status, len(held(conn, "hidden"))) == ("ok", 1)
    with open_registry(get_settings()) as registry:
        assert registry.require_user("hidden").problems == ""


def test_unknown_user(lastfm: FakeLastfm, conn) -> None:
    listener("nobody", "NoSuchName")
    outcome = run(conn, "nobody")
    assert outcome.status == "failed"
    assert "Last.fm has no user NoSuchName (error 6: User not found)" in outcome.message
    assert "connect-lastfm" in outcome.message
    assert pull_log(conn, "nobody")[0][0] == "failed"


def test_rate_limit_waits_once_then_defers(lastfm: FakeLastfm, conn) -> None:
    lastfm.add_user("Busy")
    for n in range(3):
        lastfm.scrobble("Busy", templates()[1], BASE + n * 300)
    listener("busy", "Busy")
    lastfm.rate_limited = 2  # twice in a row: one pause, then deferred to the next tick
    sleeps: list[float] = []
    outcome = run(conn, "busy", sleeps)
    assert outcome.status == "deferred" and "error 29" in outcome.message and len(sleeps) == 1
    assert held(conn, "busy") == []
    lastfm.rate_limited = 1  # once: one pause and the pull goes on
    sleeps.clear()
    outcome = run(conn, "busy", sleeps)
    assert (outcome.status, outcome.inserted, len(sleeps)) == ("ok", 3, 1)
    assert [s for s, *_ in pull_log(conn, "busy")] == ["deferred", "ok"]


def test_the_page_cap_keeps_the_newest_and_says_what_was_not_pulled(
    lastfm: FakeLastfm, conn, monkeypatch
) -> None:
    monkeypatch.setenv("TRACKTRACKER_LIVE_MAX_PAGES", "2")
    items = templates()
    lastfm.add_user("Capped")
    for n in range(450):
        lastfm.scrobble("Capped", items[n % len(items)], BASE + 60 * n)
    listener("capped", "Capped")
    outcome = run(conn, "capped")
    assert (outcome.status, outcome.pages, outcome.inserted) == ("ok", 2, 400)
    assert [at for at, _ in held(conn, "capped")] == [BASE + 60 * n for n in range(50, 450)]
    assert "stopped after 2 pages (TRACKTRACKER_LIVE_MAX_PAGES)" in outcome.message
    assert "import the Last.fm export" in outcome.message
