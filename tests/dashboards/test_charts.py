"""Every chart over HTTP (`POST /api/v1/chart/data`, the saved query context of each chart) equals a
direct SQL query on gold: for the admin (everyone), two recent listeners, and a real person in India."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from tracktracker_assets.dashboards.client import SupersetClient

from .conftest import BIStack
from .expected import EXPECTATIONS, Expectation, Params, compare

pytestmark = pytest.mark.slow
RECENT = {"Recently played", "Last 24 hours", "Last 7 days", "Minutes, last 24 hours", "Plays, last 7 days"}
# with no dashboard filter the weekly tables list every week; the dashboard's Week filter picks one
NEEDS_WEEK = {"Top tracks of the week", "Top artists of the week"}
# empty until a friend accepts (tests/dashboards/test_browser.py shows them with one), and for the admin
ONLY_WITH_A_FRIEND = {"Friends and affinity", "Shared top artists"}


def saved_context(stack: BIStack, client: SupersetClient, name: str) -> dict[str, Any]:
    return json.loads(client.chart(stack.provisioned.charts[name])["query_context"])


def with_filters(context: dict[str, Any], p: Params) -> dict[str, Any]:
    """The query context as the dashboard sends it with these filter values set."""
    context = copy.deepcopy(context)
    for query in context["queries"]:
        if p.start or p.end:
            for flt in query["filters"]:
                if flt["op"] == "TEMPORAL_RANGE":
                    flt["val"] = f"{p.start or ''} : {p.end or ''}"
                    query["time_range"] = flt["val"]
        if p.artist:
            query["filters"].append({"col": "artist", "op": "IN", "val": [p.artist]})
        if p.track:
            query["filters"].append({"col": "track", "op": "IN", "val": [p.track]})
        if p.week:
            query["filters"].append({"col": "week", "op": "IN", "val": [p.week]})
    return context


def check_chart(stack: BIStack, client: SupersetClient, name: str, user: str | None, p: Params) -> int:
    """Compare one chart with gold; returns its row count."""
    expectation: Expectation = EXPECTATIONS[name]
    query = stack.query
    before = expectation.rows(lambda sql, args: query(sql, args), user, p)
    (result,) = client.chart_data(with_filters(saved_context(stack, client, name), p))
    assert result["status"] == "success", (name, result)
    try:
        compare(name, expectation, result["data"], before)
    except AssertionError:
        if name not in RECENT and name != "Data freshness":
            raise
        # relative to now(): a play may have crossed the 24 h / 7 d line between the two queries
        compare(name, expectation, result["data"], expectation.rows(lambda s, a: query(s, a), user, p))
    return int(result["rowcount"])


def latest_week(stack: BIStack) -> str:
    ((week,),) = stack.query("select max(week_start)::text from gold.global_top_tracks_weekly")
    assert week, "no week has a track played by k listeners: the global charts would be empty"
    return week


def test_every_chart_has_an_expectation(bi_stack: BIStack) -> None:
    assert set(bi_stack.provisioned.charts) == set(EXPECTATIONS)


@pytest.mark.parametrize("who", ["admin", "alice", "bob", "khushi"])
def test_every_chart_matches_gold(bi_stack: BIStack, who: str) -> None:
    client = bi_stack.admin() if who == "admin" else bi_stack.listener(who)
    user = None if who == "admin" else who
    week = latest_week(bi_stack)
    empty = []
    for name in sorted(bi_stack.provisioned.charts):
        rows = check_chart(bi_stack, client, name, user, Params(week=week if name in NEEDS_WEEK else None))
        if rows == 0 and name not in ONLY_WITH_A_FRIEND:
            empty.append(name)
    if who == "khushi":  # a real export from 2023-2025: nothing in the last 30 days, all else there
        # totals have one row (0), and the last 24 hours draw their hours at 0
        assert set(empty) == RECENT - {"Minutes, last 24 hours", "Plays, last 7 days", "Last 24 hours"}, empty
    else:
        assert not empty, f"empty charts for {who}: {empty}"


def test_a_chosen_period_applies_to_every_chart(bi_stack: BIStack) -> None:
    """Top lists, heatmap (the period applies inside its grid), sessions, discovery... for one month."""
    ((first, last),) = bi_stack.query(
        "select min(local_date), max(local_date) from gold.fct_plays where user_id = 'alice'"
    )
    start = date(first.year, first.month + 1, 1) if first.month < 12 else date(first.year + 1, 1, 1)
    end = date(start.year, start.month + 1, 1) if start.month < 12 else date(start.year + 1, 1, 1)
    assert end <= last
    client = bi_stack.listener("alice")
    history = bi_stack.admin().get(
        f"/api/v1/dashboard/{bi_stack.provisioned.dashboards['Listening history']}/charts"
    )["result"]
    for name in sorted(c["slice_name"] for c in history):
        assert check_chart(bi_stack, client, name, "alice", Params(start=start, end=end)) > 0, name


def test_explore_follows_the_chosen_artist(bi_stack: BIStack) -> None:
    ((artist,),) = bi_stack.query(
        "select artist_name from gold.agg_top_artists where user_id = 'bob' and period = 'all' and rank = 2"
    )
    client = bi_stack.listener("bob")
    explore = bi_stack.admin().get(f"/api/v1/dashboard/{bi_stack.provisioned.dashboards['Explore']}/charts")
    for name in sorted(c["slice_name"] for c in explore["result"]):
        assert check_chart(bi_stack, client, name, "bob", Params(artist=artist)) > 0, name


def test_global_trends_show_only_entities_of_k_listeners(bi_stack: BIStack) -> None:
    k = bi_stack.settings.global_min_users
    week = latest_week(bi_stack)
    client = bi_stack.listener("carol")
    for name in NEEDS_WEEK:
        (result,) = client.chart_data(with_filters(saved_context(bi_stack, client, name), Params(week=week)))
        assert result["rowcount"] > 0
        assert all(row["listeners"] >= k for row in result["data"]), name
    # a track only one listener played that week is nowhere in the global charts
    ((solo,),) = bi_stack.query(
        "select count(*) from (select f.track_key from gold.fct_plays f "
        "where date_trunc('week', f.local_date)::date = %s::date and f.content_type = 'track' "
        "group by f.track_key having count(distinct f.user_id) < %s) s "
        "join gold.global_top_tracks_weekly g on g.track_key = s.track_key and g.week_start = %s::date",
        (week, k, week),
    )
    assert solo == 0


def test_the_admins_recent_charts_keep_each_listener_in_their_own_time_zone(bi_stack: BIStack) -> None:
    """The admin's Last 7 days has a series per listener and kind, and Recently played names each play's
    listener and time zone: alice's part of each is exactly what alice sees, and gold's local hours of
    two listeners in different time zones are never added into one bar."""
    zones = dict(bi_stack.query("select user_id, timezone from gold.dim_user"))
    assert len(set(zones.values())) > 1, zones  # the check means something only across time zones
    admin, alice = bi_stack.admin(), bi_stack.listener("alice")

    def shown(client: SupersetClient, name: str) -> list[dict[str, Any]]:
        (result,) = client.chart_data(saved_context(bi_stack, client, name))
        assert result["status"] == "success", (name, result)
        return result["data"]

    for attempt in range(2):  # relative to now(): a play may cross the 7-day line between the queries
        everyone, hers = shown(admin, "Last 7 days"), shown(alice, "Last 7 days")
        own = [
            {**row, "kind": row["kind"].removeprefix("alice · ")}
            for row in everyone
            if row["kind"].startswith("alice · ")
        ]
        if sorted(map(repr, own)) == sorted(map(repr, hers)) or attempt:
            break
    assert hers and sorted(map(repr, own)) == sorted(map(repr, hers))
    listeners = {row["kind"].split(" · ")[0] for row in everyone}
    assert len(listeners) > 1 and listeners <= set(zones), listeners
    assert all(" · " not in row["kind"] for row in hers), hers

    everyone, hers = shown(admin, "Recently played"), shown(alice, "Recently played")
    suffix = f" (alice, {zones['alice']})"
    own = [
        {**row, "played_at": row["played_at"].removesuffix(suffix)}
        for row in everyone
        if row["played_at"].endswith(suffix)
    ]
    # the admin's list is everyone's newest 50: alice's among them are her newest
    assert own and [r["played_at"] for r in own] == [r["played_at"] for r in hers[: len(own)]], (own, hers)
    assert all(row in hers for row in own), (own, hers)  # rows tied on a time may come in either order
    for row in everyone:
        listener = row["played_at"].rsplit(" (", 1)[1].split(",")[0]
        assert row["played_at"].endswith(f" ({listener}, {zones[listener]})"), row
