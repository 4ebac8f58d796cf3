"""One listener's Spotify fault stays theirs: every kind of bad answer, from the Web API and from the
accounts service, injected for one user of a run while others load, through the real Dagster job,
the real spotipy client and the fake Spotify; and through `tracktracker pull` down to gold."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import cli
from tests.spotify.conftest import connect_directly
from tracktracker_assets.orchestration.runs import _pull_lines, run_pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.spotify.assets import _table
from tracktracker_assets.spotify.faults import MESSAGE_LIMIT, one_line
from tracktracker_assets.spotify.pull import PullOutcome
from tracktracker_assets.warehouse.db import query

RECENT = "/v1/me/player/recently-played"
TOKEN = "/api/token"
TIMEOUT_S = 2  # short, for the test; the default is 10
SLOW_S = 5  # how long a slow answer takes: well past the timeout
HTML_502 = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>h1 {color: red}</style></head>"
    "<body><h1>Bad Gateway</h1>\n<p>The upstream server | returned an invalid response.</p></body></html>"
)
HTML_503 = "<html><head><title>503 Service Unavailable</title></head><body>Down for maintenance</body></html>"

# user -> (path, fault, what the recorded message must say). `times` outlasts urllib3's retries.
FAULTS: dict[str, tuple[str, dict, str]] = {
    "pf-5xx": (
        RECENT,
        {"status": 503, "message": "upstream broke\nat | the edge", "times": 10},
        "Spotify's Web API answered 503: upstream broke at | the edge",
    ),
    "pf-5xx-shape": (RECENT, {"status": 500, "body": ["no"], "times": 10}, "in an unexpected shape"),
    "pf-html": (
        RECENT,
        {"status": 502, "raw": HTML_502, "content_type": "text/html; charset=utf-8", "times": 10},
        "answered 502: 502 Bad Gateway: Bad Gateway The upstream server | returned",
    ),
    "pf-text": (RECENT, {"status": 200, "raw": "upstream said no"}, "a body that is not JSON"),
    "pf-truncated": (RECENT, {"status": 200, "raw": '{"items": [{"played_at": "2026-'}, "not JSON"),
    "pf-cut": (RECENT, {"status": None, "cut_off": True}, "Web API's answer was cut off"),
    "pf-shape": (
        RECENT,
        {"status": 200, "body": {"items": [{"track": None, "played_at": "yesterday"}]}},
        "malformed item 1 of 1",
    ),
    "pf-list": (RECENT, {"status": 200, "body": [1, 2]}, "not a recently-played page"),
    "pf-slow": (RECENT, {"status": None, "delay": SLOW_S}, f"Web API did not answer within {TIMEOUT_S} s"),
    "pf-drop": (RECENT, {"status": None, "drop": True, "times": 10}, "could not reach Spotify's Web API"),
    "pf-token-5xx": (
        TOKEN,
        {
            "status": 500,
            "body": {"error": "server_error", "error_description": "down\nfor | maintenance"},
            "times": 10,
        },
        "accounts service did not refresh the access token (server_error: down for | maintenance)",
    ),
    "pf-token-html": (
        TOKEN,
        {"status": 503, "raw": HTML_503, "content_type": "text/html", "times": 10},
        "accounts service did not refresh the access token (503 Service Unavailable",
    ),
    "pf-token-slow": (
        TOKEN,
        {"status": None, "delay": SLOW_S},
        f"accounts service did not answer within {TIMEOUT_S} s",
    ),
    "pf-token-text": (
        TOKEN,
        {"status": 200, "raw": "<not a token>"},
        "accounts service answered with a body",
    ),
    "pf-token-shape": (TOKEN, {"status": 200, "body": {"token": "?"}}, "KeyError: 'expires_in'"),
}
HEALTHY = ["pf-ok-a", "pf-ok-b"]
UNREGISTERED = "pf-403"  # not on the development-mode app's user list: the fake's real 403
FAULTY = [*FAULTS, UNREGISTERED]


@pytest.fixture(scope="module", autouse=True)
def short_timeout() -> Iterator[None]:
    saved = os.environ.get("TRACKTRACKER_SPOTIFY_TIMEOUT_S")
    os.environ["TRACKTRACKER_SPOTIFY_TIMEOUT_S"] = str(TIMEOUT_S)
    yield
    if saved is None:
        os.environ.pop("TRACKTRACKER_SPOTIFY_TIMEOUT_S", None)
    else:
        os.environ["TRACKTRACKER_SPOTIFY_TIMEOUT_S"] = saved


@pytest.fixture(autouse=True)
def _no_leftover_faults(fake):
    yield
    fake.clear_faults()


def stored(user_id: str, table: str = "bronze.spotify_recently_played") -> int:
    return query(get_settings().database_url, f"select count(*) from {table} where user_id = %s", (user_id,))[
        1
    ][0][0]


def last_pull_rows(users: list[str]) -> dict[str, tuple[str, str]]:
    rows = query(
        get_settings().database_url,
        "select distinct on (user_id) user_id, status, message from bronze.spotify_pulls "
        "where user_id = any(%s) order by user_id, pulled_at desc",
        (users,),
    )[1]
    return {user: (status, message) for user, status, message in rows}


def status_rows() -> dict[str, list[str]]:
    """`tracktracker status`'s user table: the first printed line of each user's row, by cell."""
    code, output = cli("status")
    assert code == 0, output
    return {
        cells[0]: cells
        for line in output.splitlines()
        if line.startswith("│ pf-") or line.startswith("│ pe-")
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
        if cells[0]
    }


def test_every_fault_kind_stays_with_its_user_while_the_others_load(fake) -> None:
    users = [*HEALTHY, *FAULTY]
    for user_id in users:
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", 6, end=datetime.now(UTC) - timedelta(minutes=5))
    for user_id, (path, fault, _) in FAULTS.items():
        fake.inject_fault(path, user=f"sp-{user_id}", **fault)
    fake.set_registered(f"sp-{UNREGISTERED}", False)
    # the first run of a process loads the definitions and warms Dagster up (a code server has done
    # that long before a tick): not part of the figure below
    connect_directly(fake, "pf-warm-up")
    assert run_pull(get_settings(), ["pf-warm-up"]).success

    started = time.monotonic()
    run = run_pull(get_settings(), users)
    faulty_run_s = time.monotonic() - started
    assert run.success, run.failures
    pulls = {p["user_id"]: p for p in run.pulls}
    assert sorted(pulls) == sorted(users)

    # the healthy listeners loaded everything; nothing of the faulty ones was stored
    for user_id in HEALTHY:
        assert (pulls[user_id]["status"], pulls[user_id]["inserted"], stored(user_id)) == ("ok", 6, 6)
    assert {u: stored(u) for u in FAULTY} == dict.fromkeys(FAULTY, 0)

    # every problem is a failed pull with a clear, single, bounded line: in the run's outcome, in the
    # pull log, and in the registry (the listener stays active: the next tick tries again)
    expected = {u: said for u, (_, _, said) in FAULTS.items()} | {UNREGISTERED: "answered 403"}
    logged = last_pull_rows(users)
    with open_registry(get_settings()) as registry:
        registered = {u: registry.require_user(u) for u in users}
    for user_id in FAULTY:
        message = pulls[user_id]["message"]
        assert pulls[user_id]["status"] == "failed", (user_id, message)
        assert expected[user_id] in message, (user_id, message)
        assert "\n" not in message and len(message) <= MESSAGE_LIMIT
        assert logged[user_id] == ("failed", message)
        assert (registered[user_id].status, registered[user_id].last_error) == ("active", message)
    assert "Users and access" in pulls[UNREGISTERED]["message"]
    for user_id in HEALTHY:
        assert logged[user_id][0] == "ok" and registered[user_id].last_error is None

    # the CLI's lines: one per listener, whatever the messages held
    assert len(run.pull_lines) == len(users)
    assert all("\n" not in line for line in run.pull_lines)
    assert sorted(line.split(":", 1)[0] for line in run.pull_lines) == sorted(users)

    # retries are bounded: a 5xx is asked three times in all, a timeout never again
    assert len(fake.requests_to(RECENT, user="sp-pf-5xx")) == 3
    for slow in ("pf-slow", "pf-token-slow"):
        assert TIMEOUT_S - 0.1 <= pulls[slow]["seconds"] < 2 * TIMEOUT_S, pulls[slow]
    # and the healthy listeners did not wait for the slow ones
    assert all(pulls[u]["seconds"] < TIMEOUT_S for u in HEALTHY), [pulls[u] for u in HEALTHY]

    # `tracktracker status` names each listener's problem
    rows = status_rows()
    for user_id in FAULTY:
        _, status, *_, problem = rows[user_id]
        assert status == "active" and problem and pulls[user_id]["message"].startswith(problem), (
            user_id,
            problem,
        )
    assert rows["pf-ok-a"][-1] == ""

    # once Spotify answers again, everyone loads and the problems are cleared
    fake.clear_faults()
    fake.set_registered(f"sp-{UNREGISTERED}", True)
    started = time.monotonic()
    again = run_pull(get_settings(), users)
    healthy_run_s = time.monotonic() - started
    assert {p["user_id"]: p["status"] for p in again.pulls} == dict.fromkeys(users, "ok")
    assert {u: stored(u) for u in users} == dict.fromkeys(users, 6)
    with open_registry(get_settings()) as registry:
        assert [registry.require_user(u).last_error for u in FAULTY] == [None] * len(FAULTY)
    # the figure: the stalled listeners cost about one timeout, not one per retry or per listener
    print(f"pull of {len(users)} users: {faulty_run_s:.2f} s with faults, {healthy_run_s:.2f} s without")
    assert faulty_run_s < healthy_run_s + 2 * TIMEOUT_S


def test_pull_command_refreshes_what_loaded_and_says_who_failed(fake) -> None:
    for user_id in ("pe-ok", "pe-bad"):
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", 4, end=datetime.now(UTC) - timedelta(minutes=5))
    fake.inject_fault(RECENT, 503, user="sp-pe-bad", message="no\n| luck", times=10)
    code, output = cli("pull", "pe-ok", "pe-bad")
    assert code == 1, output
    lines = output.splitlines()
    assert "pe-ok: ok, 4 new of 4 items" in lines
    assert "pe-bad: failed, 0 new of 0 items — Spotify's Web API answered 503: no | luck" in lines
    assert "Silver and gold refreshed." in output  # for what did load
    assert "1 of 2 listeners not pulled (pe-bad)" in output
    counts = query(
        get_settings().database_url,
        "select user_id, count(*) from gold.fct_plays where user_id in ('pe-ok', 'pe-bad') group by 1",
    )[1]
    assert dict(counts) == {"pe-ok": 4}
    assert status_rows()["pe-bad"][-1].startswith("Spotify's Web API answered 503")


def test_named_listeners_who_cannot_be_pulled_are_named_back(fake) -> None:
    connect_directly(fake, "pe-gone")
    with open_registry(get_settings()) as registry:
        registry.set_status("pe-gone", "needs_reauth", "invalid_grant: revoked")
        registry.upsert_user("pe-never")
    run = run_pull(get_settings(), ["pe-gone", "pe-never", "pe-nobody"])
    assert run.run_id == "" and [p["status"] for p in run.pulls] == ["skipped"] * 3
    assert run.pull_lines == [
        "pe-gone: skipped, 0 new of 0 items — status needs_reauth: reconnect with "
        "`tracktracker users connect pe-gone`",
        "pe-never: skipped, 0 new of 0 items — not connected to Spotify, Last.fm or ListenBrainz: "
        "`tracktracker users connect pe-never` (or connect-lastfm, connect-listenbrainz)",
        "pe-nobody: skipped, 0 new of 0 items — unknown user: "
        "`tracktracker users list` shows who is registered",
    ]
    assert cli("pull", "pe-gone")[0] == 1


def test_messages_become_one_bounded_line() -> None:
    assert one_line("a\nb\r\n\tc  |  d") == "a b c | d"
    assert one_line(HTML_502) == (
        "502 Bad Gateway: Bad Gateway The upstream server | returned an invalid response."
    )
    long = one_line("x " * 1000)
    assert len(long) == MESSAGE_LIMIT and long.endswith("…")
    token = "BQ" + "a1_-" * 30
    assert token not in one_line(f"echoed {token} back") and "[redacted]" in one_line(f"echoed {token}")
    # the UI's table escapes what would break it; the CLI reads the structured records, not the table
    outcome = PullOutcome("pf-x", "failed", message="a | b \\ c\nd")
    [row] = _table([outcome]).splitlines()[2:]
    assert len(re.findall(r"(?<!\\)\|", row)) == 9 and "\n" not in row
    assert _pull_lines([outcome.as_record()]) == ["pf-x: failed, 0 new of 0 items — a | b \\ c d"]
