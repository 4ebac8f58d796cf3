"""Every platform on the dashboards: gold.agg_services_daily adds up to the facts, every dashboard has
a Service and a Source filter over exactly the charts whose datasets carry the column, the filters
really split what those charts show, and the new charts draw two services for a listener who has them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Response

from tracktracker_assets.dashboards.client import SupersetClient
from tracktracker_assets.settings import Settings

from .browser import SCREENSHOTS, charts_of, chromium, dashboard_tabs, login, open_tab, screenshot
from .conftest import BIStack
from .expected import SERVICES, link_text
from .listeners import LISTENBRAINZ_DAYS, LISTENBRAINZ_TRACKS

pytestmark = pytest.mark.slow
NEW_CHARTS = ("Plays by service over time", "Where you listen", "Plays by source over time")
FILTERED = {"Service": "service", "Source": "source"}


def _query(settings: Settings, sql: str, *params: object) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def test_the_services_aggregate_adds_up_to_the_facts(bi_gold: Settings) -> None:
    """Per listener and local month (and per service and source within it), agg_services_daily holds
    exactly fct_plays' plays, counted plays and milliseconds: nothing lost, nothing counted twice."""
    grain = "user_id, date_trunc('month', local_date)::date, service, source"
    facts = _query(
        bi_gold,
        f"select {grain}, count(*), count(*) filter (where is_counted_play), sum(ms_played) "
        f"from gold.fct_plays group by {grain}",
    )
    aggregate = _query(
        bi_gold,
        f"select {grain}, sum(plays), sum(counted_plays), sum(ms_played) "
        f"from gold.agg_services_daily group by {grain}",
    )
    assert facts and sorted(aggregate) == sorted(facts)
    # the days too: each day's rows add up to that day in agg_daily_listening
    by_day = _query(
        bi_gold,
        "select d.user_id, d.local_date, d.plays, d.counted_plays, d.ms_played, "
        "sum(s.plays), sum(s.counted_plays), sum(s.ms_played) "
        "from gold.agg_daily_listening d join gold.agg_services_daily s using (user_id, local_date) "
        "group by 1, 2, 3, 4, 5",
    )
    assert by_day and all(row[2:5] == row[5:8] for row in by_day)
    # alice listens on Spotify and on ListenBrainz: both reach the aggregate, each once per listen
    services = dict(
        _query(
            bi_gold,
            "select service, sum(plays) from gold.agg_services_daily where user_id = 'alice' group by 1",
        )
    )
    listens = len(range(0, LISTENBRAINZ_DAYS, 3)) * len(LISTENBRAINZ_TRACKS)
    assert set(services) == {"spotify", "listenbrainz"} and services["listenbrainz"] == listens


def _dashboard(admin: SupersetClient, dashboard_id: int) -> tuple[dict, dict[int, str], dict[int, set[str]]]:
    """(json_metadata, chart id -> name, chart id -> its dataset's columns), as Superset holds them."""
    detail = admin.get(f"/api/v1/dashboard/{dashboard_id}")["result"]
    listed = admin.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]
    charts = {c["id"]: c["slice_name"] for c in listed}
    columns: dict[int, set[str]] = {}
    for chart_id in charts:
        dataset_id = json.loads(admin.chart(chart_id)["query_context"])["datasource"]["id"]
        dataset = admin.get(f"/api/v1/dataset/{dataset_id}", params={"q": "(columns:!(columns.column_name))"})
        columns[chart_id] = {c["column_name"] for c in dataset["result"]["columns"]}
    return json.loads(detail["json_metadata"]), charts, columns


def test_every_dashboard_has_service_and_source_filters(bi_stack: BIStack) -> None:
    """Read back from the provisioned Superset: each dashboard's Service and Source filters reach exactly
    the charts whose datasets carry the column; the others are excluded, and the filter says which."""
    admin = bi_stack.admin()
    assert len(bi_stack.provisioned.dashboards) == 9
    for title, dashboard_id in bi_stack.provisioned.dashboards.items():
        metadata, charts, columns = _dashboard(admin, dashboard_id)
        natives = {f["name"]: f for f in metadata["native_filter_configuration"]}
        for name, column in FILTERED.items():
            native = natives.get(name)
            assert native is not None, f"{title} has no {name} filter"
            assert native["filterType"] == "filter_select"
            assert [t["column"]["name"] for t in native["targets"]] == [column]
            carrying = {chart_id for chart_id, cols in columns.items() if column in cols}
            assert set(native["chartsInScope"]) == carrying, (title, name)
            assert set(native["scope"]["excluded"]) == set(charts) - carrying, (title, name)
            for chart_id in set(charts) - carrying:  # the listener is told which charts it does not split
                assert charts[chart_id] in native["description"], (title, name, charts[chart_id])
        # k-anonymous counts over everyone, and comparisons of whole histories: nothing to split
        if title in ("Global trends", "Compare with a friend"):
            assert all(natives[name]["chartsInScope"] == [] for name in FILTERED)
        else:
            assert len(natives["Service"]["chartsInScope"]) > len(charts) / 2, title
    history = bi_stack.provisioned.dashboards["Listening history"]
    _, charts, _ = _dashboard(admin, history)
    assert set(NEW_CHARTS) <= set(charts.values())


def _filtered(context: dict[str, Any], column: str, values: list[str]) -> dict[str, Any]:
    """The query context as the dashboard sends it with a Service or Source value picked: the filter in
    each query and in the form data's extra_form_data (where the datasets' filter_values reads it)."""
    context = copy.deepcopy(context)
    flt = {"col": column, "op": "IN", "val": values}
    for query in context["queries"]:
        query["filters"].append(dict(flt))
    extra = context["form_data"].setdefault("extra_form_data", {})
    extra.setdefault("filters", []).append(dict(flt))
    return context


def _data(client: SupersetClient, stack: BIStack, name: str, column: str, values: list[str]) -> list[dict]:
    context = json.loads(client.chart(stack.provisioned.charts[name])["query_context"])
    (result,) = client.chart_data(_filtered(context, column, values))
    assert result["status"] == "success", (name, result)
    return result["data"]


def test_the_service_filter_splits_what_alice_sees(bi_stack: BIStack) -> None:
    alice = bi_stack.listener("alice")
    minutes = dict(
        bi_stack.query(
            "select service, sum(minutes_played) from gold.fct_plays where user_id = 'alice' group by 1"
        )
    )
    assert set(minutes) == {"listenbrainz", "spotify"}
    for service, minutes_played in minutes.items():
        by_service = _data(alice, bi_stack, "Plays by service over time", "service", [service])
        assert {row["service_name"] for row in by_service} == {SERVICES[service]}
        # the chart ends with the last complete month (the month under way would read as a drop)
        by_month = bi_stack.query(
            "select date_trunc('month', local_date)::date, count(*) filter (where is_counted_play), "
            "date_trunc('month', current_date)::date from gold.fct_plays "
            "where user_id = 'alice' and service = %s group by 1, 3",
            (service,),
        )
        counted = sum(plays for month, plays, under_way in by_month if month < under_way)
        assert sum(row["counted_plays"] for row in by_service) == counted
        # the heatmap applies it inside its 24 x 7 grid: every cell stays, the plays are this service's
        grid = _data(alice, bi_stack, "When you listen", "service", [service])
        assert len(grid) == 7 * 24
        # each cell shows whole minutes (as milliseconds, for the duration format): half a minute off at most
        shown = sum(row["time_listened"] for row in grid) / 60000
        filled = sum(1 for row in grid if row["time_listened"])
        assert abs(float(shown) - float(minutes_played)) <= 0.5 * filled, (shown, minutes_played)
        tops = _data(alice, bi_stack, "Top artists", "service", [service])
        artists = {link_text(row["artist_page"]) for row in tops}
        listenbrainz_artists = {artist for artist, *_ in LISTENBRAINZ_TRACKS}
        assert (artists <= listenbrainz_artists) == (service == "listenbrainz"), artists
    # the Source filter splits by bronze table the same way
    sources = bi_stack.query(
        "select source, count(*) filter (where is_counted_play) from gold.fct_plays "
        "where user_id = 'alice' and local_date < date_trunc('month', current_date) group by 1"
    )
    assert len(sources) >= 2
    for source, counted in sources:
        rows = _data(alice, bi_stack, "Plays by source over time", "source", [source])
        assert {row["source"] for row in rows} == {source}
        assert sum(row["counted_plays"] for row in rows) == counted


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def _slice_id(response: Response) -> int | None:
    """The chart a dashboard's data request is for (its form_data names the slice)."""
    for raw in parse_qs(urlsplit(response.url).query).get("form_data") or [response.request.post_data]:
        try:
            form_data = json.loads(raw or "{}")
        except ValueError:
            continue
        form_data = form_data.get("form_data", form_data)
        if form_data.get("slice_id"):
            return int(form_data["slice_id"])
    return None


def test_the_platform_charts_draw_two_services(bi_stack: BIStack, browser: BrowserContext) -> None:
    """Alice's Listening history in Chromium: the three new charts draw Spotify and ListenBrainz (series
    named as she knows them), Where you listen in shares of 100 %, and the filter bar offers both filters."""
    page = login(browser, bi_stack.url, "alice", bi_stack.password("alice"))
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r) if "/api/v1/chart/data" in r.url else None)
    page.goto(f"{bi_stack.url}/superset/dashboard/listening-history/")
    (tab, names), *_ = [(t, n) for t, n in dashboard_tabs("listening-history") if set(NEW_CHARTS) <= set(n)]
    open_tab(page, tab)
    charts = {c["title"]: c for c in charts_of(page, len(names))}
    screenshot(page, "listening-history-alice-services.png")
    row = page.locator(".grid-row", has=page.get_by_text("Where you listen", exact=True)).last
    row.screenshot(path=str(SCREENSHOTS / "platforms-alice.png"))
    for name in NEW_CHARTS:
        chart = charts[name]
        assert chart["errors"] == 0 and chart["painted"] > 200, chart
    # the series the browser drew (ECharts paints legends on the canvas: read what it was sent)
    series: dict[int, set[str]] = {}
    values: dict[int, list[float]] = {}
    for response in responses:
        chart_id = _slice_id(response)
        if chart_id is None or response.status != 200:
            continue
        for result in response.json()["result"]:
            names = set(result.get("colnames") or []) - {"local_date", "__timestamp"}
            series.setdefault(chart_id, set()).update(names)
            for row_data in result.get("data") or []:
                values.setdefault(chart_id, []).append(
                    sum(v for k, v in row_data.items() if k in names and isinstance(v, int | float))
                )
    ids = bi_stack.provisioned.charts
    for name in ("Plays by service over time", "Where you listen"):
        assert {"Spotify", "ListenBrainz"} <= series.get(ids[name], set()), (name, series.get(ids[name]))
    assert {"spotify_extended", "listenbrainz_listens"} <= series.get(ids["Plays by source over time"], set())
    # each month of Where you listen is split into shares that make 100 %
    shares = values[ids["Where you listen"]]
    assert shares and all(total == pytest.approx(1.0) for total in shares), shares
    bar = page.inner_text('[data-test="filter-bar"]')
    assert "Service" in bar and "Source" in bar
    page.close()
