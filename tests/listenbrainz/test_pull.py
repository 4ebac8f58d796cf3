"""ListenBrainz pulls through liblistenbrainz against the fake API over real HTTP: paging back with
max_ts to the newest listen held, listens sharing a second across a page boundary, re-pulls, the user
token, an unknown user and the rate limit."""

from __future__ import annotations

import json

import requests

from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.listenbrainz.conftest import HAPPY_PATH, templates
from tracktracker_assets.listenbrainz.pull import _listens, pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings

BASE = 1_600_000_000


def listener(user_id: str, name: str, token: str | None = None) -> None:
    with open_registry(get_settings()) as registry:
        if registry.get_user(user_id) is None:
            registry.add_user(user_id, timezone="Europe/Madrid")
        registry.connect_listenbrainz(user_id, name, token)


def run(conn, user_id: str, sleeps: list[float] | None = None):
    with open_registry(get_settings()) as registry, requests.Session() as http:
        return pull(
            get_settings(), conn, registry, user_id, http, sleep=(sleeps if sleeps is not None else []).append
        )


def held(conn, user_id: str) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(
            "select extract(epoch from listened_at)::bigint from bronze.listenbrainz_api_listens "
            "where user_id = %s order by listened_at, listen_key",
            (user_id,),
        )
        rows = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return rows


def test_the_real_page_reads_every_listen() -> None:
    body = json.loads(HAPPY_PATH.read_text())
    plain = [listen["listened_at"] for listen in body["payload"]["listens"]]  # read by hand
    received = _listens(body, 1)
    assert [int(r.at.timestamp()) for r in received] == plain and len(plain) == 25
    assert len({r.key for r in received}) == 25  # each its own recording_msid


def test_paging_back_to_the_newest_held_and_re_pulls(listenbrainz: FakeListenBrainz, conn) -> None:
    items = templates()
    listenbrainz.add_user("pager")
    stamps = [BASE + 30 * n for n in range(2300)]
    stamps += [stamps[-1000]] * 3  # three more in the second page 1 ends with: cut by the page boundary
    for n, ts in enumerate(stamps):
        listenbrainz.listen("pager", items[n % len(items)], ts)
    listener("lb-pager", "pager")

    first = run(conn, "lb-pager")
    assert (first.status, first.pages, first.items, first.inserted) == ("ok", 3, 2303, 2303)
    assert held(conn, "lb-pager") == sorted(stamps)
    queries = [r["query"] for r in listenbrainz.requests_for("pager")]
    assert queries[0] == {"count": "1000"} and all("min_ts" not in q for q in queries)

    again = run(conn, "lb-pager")  # nothing newer: one page, nothing added
    assert (again.status, again.pages, again.inserted) == ("ok", 1, 0)

    for n in range(5):
        listenbrainz.listen("pager", items[n], stamps[-4] + 100 + n)
    newer = run(conn, "lb-pager")
    assert (newer.items, newer.inserted) == (5, 5) and len(held(conn, "lb-pager")) == 2308


def test_token_is_sent_and_a_refused_one_is_a_problem(listenbrainz: FakeListenBrainz, conn) -> None:
    listenbrainz.add_user("tokened")
    listenbrainz.listen("tokened", templates()[0], BASE)
    listenbrainz.tokens.add("good-token-0001")
    listener("lb-token", "tokened", "good-token-0001")
    assert run(conn, "lb-token").inserted == 1
    assert listenbrainz.requests_for("tokened")[-1]["authorization"] == "Token good-token-0001"
    listener("lb-token", "tokened", "stale-token-0002")
    outcome = run(conn, "lb-token")
    assert outcome.status == "failed" and "refused the stored user token" in outcome.message
    with open_registry(get_settings()) as registry:
        assert "ListenBrainz: ListenBrainz refused" in registry.require_user("lb-token").problems


def test_unknown_user(listenbrainz: FakeListenBrainz, conn) -> None:
    listener("lb-nobody", "no-such-listener")
    outcome = run(conn, "lb-nobody")
    assert outcome.status == "failed"
    assert (
        "ListenBrainz has no user no-such-listener (404: Cannot find user: no-such-listener)"
        in outcome.message
    )
    assert held(conn, "lb-nobody") == []


def test_rate_limit_waits_a_short_reset_once_and_defers_a_long_one(
    listenbrainz: FakeListenBrainz, conn
) -> None:
    listenbrainz.add_user("busy")
    for n in range(4):
        listenbrainz.listen("busy", templates()[n], BASE + 600 * n)
    listener("lb-busy", "busy")
    listenbrainz.rate_limited, listenbrainz.reset_in = 1, 2
    sleeps: list[float] = []
    outcome = run(conn, "lb-busy", sleeps)
    assert (outcome.status, outcome.inserted, sleeps) == ("ok", 4, [2])
    listenbrainz.listen("busy", templates()[5], BASE + 9000)
    listenbrainz.rate_limited, listenbrainz.reset_in = 1, 3600  # longer than LIVE_MAX_WAIT_S
    sleeps.clear()
    outcome = run(conn, "lb-busy", sleeps)
    assert outcome.status == "deferred" and outcome.retry_after_s == 3600 and sleeps == []
    assert "3600 s" in outcome.message and len(held(conn, "lb-busy")) == 4
