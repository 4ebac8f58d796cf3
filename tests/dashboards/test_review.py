"""Year in review and the artist and track pages over HTTP: each chart equals SQL on gold for a chosen
period, artist or track, and a real export's year equals a plain recount of its files (tests/reference.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import REAL_PEOPLE, history_files_of
from tests.reference import period_figures, read_events

from .conftest import BIStack
from .expected import Params, link_text
from .test_charts import check_chart, saved_context, with_filters

pytestmark = pytest.mark.slow


def charts_of(stack: BIStack, title: str) -> list[str]:
    dashboard = stack.provisioned.dashboards[title]
    found = stack.admin().get(f"/api/v1/dashboard/{dashboard}/charts")["result"]
    return sorted(c["slice_name"] for c in found)


def test_year_in_review_follows_the_period_and_compares_with_the_one_before(bi_stack: BIStack) -> None:
    """The last 60 days of alice's listening, next to the 60 days before them."""
    ((last,),) = bi_stack.query("select max(local_date) from gold.fct_plays where user_id = 'alice'")
    period = Params(start=last - timedelta(days=59), end=last + timedelta(days=1))
    client = bi_stack.listener("alice")
    for name in charts_of(bi_stack, "Year in review"):
        assert check_chart(bi_stack, client, name, "alice", period) > 0, name
    (result,) = client.chart_data(
        with_filters(saved_context(bi_stack, client, "Compared with the period before"), period)
    )
    rows = {r["figure"]: r for r in result["data"]}
    assert list(rows) == ["Minutes", "Plays", "Days with music", "New artists"]  # in this order
    assert all(r["period_before"] is not None for r in rows.values())


@pytest.mark.parametrize("who", ["admin", "bob"])
def test_artist_and_track_pages_follow_the_chosen_one(bi_stack: BIStack, who: str) -> None:
    user = None if who == "admin" else who
    ((artist, track),) = bi_stack.query(
        "select t.artist_name, t.track_name || ' — ' || t.artist_name from gold.agg_top_tracks t "
        "where t.user_id = 'bob' and t.period = 'all' and t.rank = 2"
    )
    client = bi_stack.admin() if user is None else bi_stack.listener(who)
    for title, picked in (("Artist", Params(artist=artist)), ("Track", Params(track=track))):
        for name in charts_of(bi_stack, title):
            assert check_chart(bi_stack, client, name, user, picked) > 0, (title, name)


def test_a_real_year_equals_a_recount_of_the_export(bi_stack: BIStack) -> None:
    """khushi's busiest year (a real Spotify export, Asia/Kolkata): minutes, plays, top 5 artists,
    longest streak and new artists as Year in review shows them, against plain Python on the files."""
    person = "Khushi-203006"
    user_id, timezone = REAL_PEOPLE[person]
    ((year,),) = bi_stack.query(
        "select extract(year from local_date)::int from gold.fct_plays where user_id = %s "
        "group by 1 order by count(*) desc limit 1",
        (user_id,),
    )
    period = Params(start=date(year, 1, 1), end=date(year + 1, 1, 1))
    expected = period_figures(read_events(history_files_of(person)), timezone, period.start, period.end)
    client = bi_stack.listener(user_id)

    def shown(name: str) -> list[dict]:
        (result,) = client.chart_data(with_filters(saved_context(bi_stack, client, name), period))
        assert result["status"] == "success", (name, result)
        return result["data"]

    assert shown("Minutes in the period")[0]["minutes_played"] == pytest.approx(expected.minutes, abs=1e-6)
    assert shown("Plays in the period")[0]["counted_plays"] == expected.counted
    assert shown("Longest streak")[0]["longest_streak"] == expected.longest_streak > 1
    assert shown("New artists discovered")[0]["new_artists"] == expected.new_artists > 0
    top = [(link_text(r["artist_page"]), r["counted_plays"]) for r in shown("Top 5 artists")]
    # the same counts in the same order; names as the shared catalog spells them, ties in either order
    assert [n for _, n in top] == [n for _, n in expected.top_artists]
    counted = {name.casefold(): n for name, n in expected.artist_counted.items()}
    assert all(counted[name.casefold()] == n for name, n in top), (top, expected.top_artists)
