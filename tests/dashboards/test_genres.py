"""Genres and eras: alice's most played tracks get genres and release years from the fake MusicBrainz
through the product's client, bronze and a refresh; the dashboard's charts equal gold for a chosen
period and are drawn in the browser, unknown genres and decades grouped and labelled."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import BrowserContext
from rich.console import Console

from tests.fakes.musicbrainz_server import FakeMusicBrainz, recording
from tracktracker_assets.musicbrainz.client import Lookup, MusicBrainzClient
from tracktracker_assets.musicbrainz.lookups import store
from tracktracker_assets.orchestration.pipeline import refresh_if_behind
from tracktracker_assets.warehouse.db import connect

from .browser import CHART_REPORT, charts_of, chromium, login, screenshot
from .conftest import BIStack
from .expected import Params
from .test_charts import check_chart, saved_context

pytestmark = pytest.mark.slow
SLUG = "genres-and-eras"
CHARTS = ("Top genres", "Listening by release decade")
# what MusicBrainz says of alice's six most played tracks: a track with two genres, two sharing one
ANSWERS = (
    ({"indie rock": 5, "shoegaze": 2}, "1991-11-04"),
    ({"indie rock": 3}, "1994"),
    ({"synth-pop": 4}, "1983-06"),
    ({"bossa nova": 2, "jazz": 2}, "1964-03-01"),
    ({"electronic": 1}, "2012-09-10"),
    ({}, None),  # a recording nobody tagged nor dated: stays unknown
)


@pytest.fixture(scope="module")
def genres_known(bi_stack: BIStack) -> Iterator[BIStack]:
    tracks = bi_stack.query(
        "select d.musicbrainz_lookup, d.track_name, d.artist_name from gold.fct_plays f "
        "join gold.dim_track d on d.track_key = f.track_key "
        "where f.user_id = 'alice' and d.musicbrainz_lookup is not null and d.genres is null "
        "group by 1, 2, 3 order by count(*) desc, 1 limit %s",
        (len(ANSWERS),),
    )
    assert len(tracks) == len(ANSWERS)
    with FakeMusicBrainz() as fake:
        for (lookup, title, artist), (tags, released) in zip(tracks, ANSWERS, strict=True):
            kind, _, value = lookup.partition(":")
            digest = hashlib.md5(lookup.encode()).hexdigest()
            mbid = (
                value
                if kind == "mbid"
                else f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
            )
            fake.add(
                recording(
                    mbid, title, artist, first_release_date=released, tags=tags,
                    isrcs=(value,) if kind == "isrc" else (),
                )
            )  # fmt: skip
        settings = dataclasses.replace(
            bi_stack.settings, musicbrainz_url=fake.url, musicbrainz_contact="tracktracker-tests@example.org"
        )
        client = MusicBrainzClient(settings)
        conn = connect(settings.database_url)
        try:
            for lookup, _, _ in tracks:
                store(conn, Lookup(lookup), client.fetch(Lookup(lookup)))
        finally:
            conn.close()
        assert all(r.status == 200 for r in fake.requests) and len(fake.requests) == len(ANSWERS)
    assert refresh_if_behind(bi_stack.settings, Console(quiet=True))
    yield bi_stack


def test_charts_equal_gold_with_musicbrainz_genres(genres_known: BIStack) -> None:
    stack = genres_known
    ((first, last),) = stack.query(
        "select min(month), max(month) from gold.agg_genres where user_id = 'alice'"
    )
    after_last = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    client = stack.listener("alice")
    for params in (Params(), Params(start=first, end=after_last)):
        for name in CHARTS:
            assert check_chart(stack, client, name, "alice", params) > 1, name
    # the answers are on the charts: genres (one track counting toward two), decades, and the unknown
    shown = {}
    for name, label in zip(CHARTS, ("genre", "decade_label"), strict=True):
        (result,) = client.chart_data(saved_context(stack, client, name))
        shown[name] = {row[label] for row in result["data"]}
    assert {"indie rock", "shoegaze", "synth-pop", "bossa nova", "jazz", "(unknown genre)"} <= shown[
        "Top genres"
    ]
    assert {"1960s", "1980s", "1990s", "2010s", "(unknown decade)"} <= shown["Listening by release decade"]


def test_the_dashboard_draws_genres_and_decades(genres_known: BIStack) -> None:
    stack = genres_known
    with chromium() as browser:
        _draw(stack, browser)


def _draw(stack: BIStack, browser: BrowserContext) -> None:
    page = login(browser, stack.url, "alice", stack.password("alice"))
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{stack.url}/superset/dashboard/{SLUG}/")
    charts = charts_of(page, len(CHARTS))
    screenshot(page, f"{SLUG}-alice.png")
    assert sorted(c["title"] for c in charts) == sorted(CHARTS)
    for chart in charts:
        assert chart["errors"] == 0 and chart["painted"] > 200, chart
    assert len(page.evaluate(CHART_REPORT)) == len(CHARTS)
    assert not page.query_selector('[data-test="loading-indicator"], .loading')
    assert [m for m in console if "scarf.sh" not in m] == []
    page.close()
