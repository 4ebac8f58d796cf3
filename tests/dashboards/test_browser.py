"""Headless Chromium as listeners: every dashboard draws every chart with their own figures, in their
local time, names not keys, no error panels; SQL Lab shows only their rows. Screenshots go to
test-output/screenshots/ for a person to look at."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.reference_friends import recount
from tracktracker_assets.dashboards import service
from tracktracker_assets.friends import consent
from tracktracker_assets.warehouse.db import connect

from .browser import CHART_REPORT, charts_of, chromium, dashboard_tabs, login, open_tab, screenshot
from .conftest import BIStack

pytestmark = pytest.mark.slow
DASHBOARDS = {
    "current-listening": "Current listening",
    "listening-history": "Listening history",
    "explore": "Explore",
    "global-trends": "Global trends",
    "year-in-review": "Year in review",
    "artist": "Artist",
    "track": "Track",
    "genres-and-eras": "Genres and eras",
}
# the Superset frontend's telemetry pixel, which our content security policy blocks (as it should)
BENIGN_CONSOLE = ("scarf.sh",)
MD5 = re.compile(r"\b[0-9a-f]{32}\b")


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def password(stack: BIStack, user: str) -> str:
    return service.admin_password(stack.settings) if user == service.ADMIN_USERNAME else stack.password(user)


def drawn(chart: dict) -> bool:
    return bool(chart["bigNumber"] or chart["painted"] > 200 or chart["rows"] or chart["countries"])


@pytest.mark.parametrize(
    ("user", "slug"),
    [("alice", slug) for slug in DASHBOARDS]
    + [("khushi", "listening-history"), ("bob", "explore")]
    # the admin sees every listener at once (Compare with a friend: its own test): drawn where that
    # changes what a chart holds in kind (every listener's plays and recent rows, trends across
    # listeners). The admin's figures on every chart are checked against gold by
    # test_charts.py::test_every_chart_matches_gold[admin], and a chart draws by the same code for
    # any user: a dashboard drawn costs the suite ~11 CPU seconds of Chromium and Superset.
    + [("admin", slug) for slug in ("current-listening", "listening-history", "global-trends")],
)
def test_dashboard_draws_every_chart(
    bi_stack: BIStack, browser: BrowserContext, user: str, slug: str
) -> None:
    page = login(browser, bi_stack.url, user, password(bi_stack, user))
    data: list[Response] = []
    console: list[str] = []
    page.on(
        "response", lambda r: data.append(r) if "/chart/data" in r.url or "explore_json" in r.url else None
    )
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    refused: list[Response] = []  # any request the page made that failed: named in the assertion below
    page.on("response", lambda r: refused.append(r) if r.status >= 400 else None)
    dashboard_id = bi_stack.provisioned.dashboards[DASHBOARDS[slug]]
    expected = len(bi_stack.admin().get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"])
    page.goto(f"{bi_stack.url}/superset/dashboard/{slug}/")
    tabs = dashboard_tabs(slug)
    charts = []
    for number, (tab, names) in enumerate(tabs):
        open_tab(page, tab)  # a tab's charts load when it is opened
        shown = charts_of(page, len(names))
        assert sorted(c["title"] for c in shown) == sorted(names), tab
        screenshot(page, f"{slug}-{user}.png" if len(tabs) == 1 else f"{slug}-{user}-{number + 1}.png")
        charts += shown

    assert len(charts) == expected
    assert len({c["title"] for c in charts}) == expected
    for chart in charts:
        assert chart["errors"] == 0, chart
        assert "No results" not in chart["text"], f"{chart['title']} is empty for {user}"
        assert drawn(chart), f"{chart['title']} drew nothing: {chart}"
        assert not MD5.search(chart["text"]), f"{chart['title']} shows a raw key: {chart['text'][:300]}"
    for response in data:
        assert response.status == 200, response.url
    errors = [m for m in console if not any(b in m for b in BENIGN_CONSOLE)]
    assert errors == [], [(r.status, r.url, r.text()[:500]) for r in refused]
    page.close()


def test_current_listening_is_in_local_time(bi_stack: BIStack, browser: BrowserContext) -> None:
    """The newest play of a listener in Berlin and one in New York shows their wall-clock time, not UTC."""
    for user in ("alice", "bob"):
        ((shown, utc),) = bi_stack.query(
            "select to_char(ended_at_local, 'Dy DD Mon, HH24:MI'), to_char(ended_at, 'Dy DD Mon, HH24:MI') "
            "from gold.recent_plays where user_id = %s order by ended_at desc limit 1",
            (user,),
        )
        assert shown != utc  # Berlin and New York are never on UTC in November
        page = login(
            browser,
            bi_stack.url,
            user,
            bi_stack.password(user),
            then="/superset/dashboard/current-listening/",
        )
        charts = charts_of(page, 6)
        (recent,) = [c for c in charts if c["title"] == "Recently played"]
        first = re.search(r"\w{3} \d{2} \w{3}, \d{2}:\d{2}", recent["text"])
        assert first is not None and first.group() == shown, recent["text"][:400]
        page.close()


def test_sql_lab_in_the_browser_shows_only_own_rows(bi_stack: BIStack, browser: BrowserContext) -> None:
    page = login(browser, bi_stack.url, "bob", bi_stack.password("bob"))
    page.set_viewport_size({"width": 1500, "height": 1000})  # SQL Lab fills the window: keep it screen-sized
    page.goto(f"{bi_stack.url}/sqllab/")
    page.wait_for_load_state("networkidle")
    editor = page.locator(".ace_text-input").first
    try:  # SQL Lab opens its last tab, drawn a while after the page settles on a busy machine
        editor.wait_for(state="attached", timeout=20_000)
    except PlaywrightTimeout:  # no tab open yet
        page.get_by_text("Add a new tab").first.click()
        editor.wait_for(state="attached", timeout=60_000)
    validations: list[Response] = []
    page.on("response", lambda r: validations.append(r) if "/validate_sql" in r.url else None)
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # one input event: typed key by key, each prefix is sent to the syntax check, and on a busy machine
    # a late answer for a prefix ("... group by") could mark an error the final text does not have
    page.keyboard.insert_text("select user_id, count(*) as plays from gold.fct_plays group by user_id")
    page.keyboard.press("Control+Enter")
    page.get_by_text("1 row", exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    screenshot(page, "sqllab-bob.png", content=None)
    body = page.inner_text("body")
    assert "bob" in body and "alice" not in body and "carol" not in body
    # SQL Lab's syntax check (pgsanity) works, so no false error marker in the gutter once it has answered
    try:
        expect(page.locator(".ace_error")).to_have_count(0, timeout=15_000)
    except AssertionError as missed:
        answers = [f"{r.status} {r.text()[:300]}" for r in validations]
        raise AssertionError(f"syntax check marked an error; its answers: {answers}") from missed
    page.close()


def test_a_top_list_entry_opens_its_page(bi_stack: BIStack, browser: BrowserContext) -> None:
    """Listening history's Top artists -> the artist's page, filtered to them; its Top tracks -> the
    track's page, filtered to that track; the figures are the listener's own, from gold. Not the first
    entries, which the pages would show anyway (their filters start on the listener's top one)."""
    user = "alice"
    page = login(
        browser, bi_stack.url, user, bi_stack.password(user), then="/superset/dashboard/listening-history/"
    )
    (names,) = [names for tab, names in dashboard_tabs("listening-history") if tab == "Top and when"]
    open_tab(page, "Top and when")
    charts_of(page, len(names))
    # the second entries: the pages start on the listener's top artist and track by themselves
    link = page.locator('a[href*="/superset/dashboard/artist/"]').nth(1)
    artist = link.inner_text()
    ((plays,),) = bi_stack.query(
        "select count(*) filter (where f.is_counted_play) from gold.fct_plays f "
        "join gold.dim_artist a on a.artist_key = f.artist_key where f.user_id = %s and a.artist_name = %s",
        (user, artist),
    )
    link.click()
    page.wait_for_url("**/superset/dashboard/artist/**", timeout=30_000)
    shown = {c["title"]: c for c in charts_of(page, len(dashboard_tabs("artist")[0][1]))}
    screenshot(page, f"artist-page-{user}.png")
    assert all(c["errors"] == 0 and drawn(c) for c in shown.values()), shown
    first_and_last = shown["First and last play of the artist"]["text"]
    assert f"{plays:,}" in first_and_last, (artist, plays, first_and_last)
    assert artist in page.inner_text(".filter-bar, [data-test='filter-bar']")  # the filter names them

    track_link = page.locator('a[href*="/superset/dashboard/track/"]').nth(1)
    track = track_link.inner_text()
    ((track_plays,),) = bi_stack.query(
        "select count(*) filter (where f.is_counted_play) from gold.fct_plays f "
        "join gold.dim_track t on t.track_key = f.track_key "
        "where f.user_id = %s and t.track_name || ' — ' || t.artist_name = %s",
        (user, track),
    )
    assert track.endswith(f" — {artist}") and track_plays > 0
    track_link.click()
    page.wait_for_url("**/superset/dashboard/track/**", timeout=30_000)
    shown = {c["title"]: c for c in charts_of(page, len(dashboard_tabs("track")[0][1]))}
    screenshot(page, f"track-page-{user}.png")
    assert all(c["errors"] == 0 and drawn(c) for c in shown.values()), shown
    assert f"{track_plays:,}" in shown["First and last play of the track"]["text"], track
    page.close()


def menu_entries(page: Page) -> dict[str, object]:
    """The main menu's entries as shown at the top of every page, and whether the "+" menu is there."""
    page.wait_for_selector('[data-test="navbar-top"], .ant-menu', timeout=30_000)
    return {
        "entries": page.evaluate(
            "() => [...document.querySelectorAll('.ant-menu-horizontal > .ant-menu-item, "
            ".ant-menu-horizontal > .ant-menu-submenu')].map(e => e.innerText.trim()).filter(Boolean)"
        ),
        "plus": page.locator('[data-test="new-dropdown-icon"]').count(),
    }


def test_a_listeners_menu_has_no_authoring_entries(bi_stack: BIStack, browser: BrowserContext) -> None:
    """A listener sees the dashboards and SQL Lab, not the Charts, Datasets or "+" menus; the admin
    keeps them (the same page, so the menu is what differs). A listener's sign-in without a page to
    go to lands on the welcome page, which draws without an error."""
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(b in message.text for b in BENIGN_CONSOLE):
            console.append(message.text)

    browser.on("console", on_console)  # the context's: from the sign-in on
    page = login(browser, bi_stack.url, "alice", bi_stack.password("alice"), then="/superset/welcome/")
    page.get_by_text("Dashboards").first.wait_for(state="visible", timeout=60_000)
    page.wait_for_load_state("networkidle")
    screenshot(page, "welcome-alice.png", content=None)
    browser.remove_listener("console", on_console)
    assert console == [], console
    page.goto(f"{bi_stack.url}/dashboard/list/")
    menu = menu_entries(page)
    screenshot(page, "menu-alice.png", content=None)
    assert "Dashboards" in menu["entries"] and "SQL" in menu["entries"], menu
    assert not {"Charts", "Datasets"} & set(menu["entries"]), menu
    assert menu["plus"] == 0, menu
    page.goto(f"{bi_stack.url}/sqllab/")  # SQL Lab itself still opens
    opened = page.locator(".ace_text-input").or_(page.get_by_text("Add a new tab"))
    opened.first.wait_for(state="attached", timeout=60_000)
    page.close()
    page = login(
        browser,
        bi_stack.url,
        service.ADMIN_USERNAME,
        service.admin_password(bi_stack.settings),
        then="/dashboard/list/",
    )
    menu = menu_entries(page)
    assert {"Dashboards", "Charts", "Datasets", "SQL"} <= set(menu["entries"]) and menu["plus"] == 1, menu
    page.close()


def test_global_trends_says_whether_there_are_enough_listeners(
    bi_stack: BIStack, browser: BrowserContext
) -> None:
    """The state in words, and the latest shared week picked and applied: no spinner, one week's lists."""
    ((shared,),) = bi_stack.query(
        "select count(*) from (select date_trunc('week', local_date) from gold.fct_plays "
        "where content_type = 'track' group by 1 having count(distinct user_id) >= 3) as weeks"
    )
    ((latest,),) = bi_stack.query("select max(week_start)::text from gold.global_top_tracks_weekly")
    ids = {chart_id: name for name, chart_id in bi_stack.provisioned.charts.items()}
    page = login(browser, bi_stack.url, "bob", bi_stack.password("bob"))
    answers = chart_answers(page, bi_stack.url, "global-trends", ids)
    charts = {c["title"]: c for c in page.evaluate(CHART_REPORT)}
    screenshot(page, "global-trends-state-bob.png")
    page.close()
    assert f"{shared} weeks with 3 or more listeners" in charts["Listeners sharing a week"]["text"]
    weekly = answers["Top tracks of the week"]
    assert weekly["rows"] and weekly["form"]["extra_form_data"]["filters"] == [
        {"col": "week", "op": "IN", "val": [latest]}
    ]
    ranks = [row["rank"] for row in weekly["rows"]]
    assert len(set(ranks)) == len(ranks), "more than one week's ranking on the page"


def chart_answers(page: Page, url: str, slug: str, ids: dict[int, str]) -> dict[str, dict]:
    """Open every tab of a dashboard; each chart's form data and the rows its data request answered."""
    answers: dict[str, dict] = {}

    def on_response(response: Response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            form = (response.request.post_data_json or {}).get("form_data") or {}
            name = ids.get(form.get("slice_id"))
            if name and response.status == 200:
                rows = [row for result in response.json()["result"] for row in result["data"]]
                answers[name] = {"form": form, "rows": rows}

    page.on("response", on_response)
    page.goto(f"{url}/superset/dashboard/{slug}/")
    for tab, names in dashboard_tabs(slug):
        open_tab(page, tab)
        charts_of(page, len(names))
    page.remove_listener("response", on_response)
    return answers


def test_charts_over_time_tell_the_truth(bi_stack: BIStack, browser: BrowserContext) -> None:
    """As the browser draws them, for the admin (several listeners, years apart): the month under way is
    left out, a month without listening is a gap (a null, never a line drawn across it), and the
    monthly rank's axis runs from 1 at the top."""
    ids = {chart_id: name for name, chart_id in bi_stack.provisioned.charts.items()}
    this_month = datetime.now(UTC).date().replace(day=1)
    ms_this_month = datetime(this_month.year, this_month.month, 1, tzinfo=UTC).timestamp() * 1000
    page = login(browser, bi_stack.url, service.ADMIN_USERNAME, service.admin_password(bi_stack.settings))
    # an owner's visit makes Superset save the dashboards' label colours; keep the provisioned ones
    # (test_provision compares them), so the test only looks
    page.route("**/api/v1/dashboard/*/colors*", lambda route: route.abort())
    answers = chart_answers(page, bi_stack.url, "listening-history", ids)
    answers |= chart_answers(page, bi_stack.url, "explore", ids)
    screenshot(page, "explore-admin.png")
    page.close()
    for name in ("Plays", "Skip rate", "Minutes listened", "Plays per month", "Share of your listening"):
        answer = answers[name]
        months = [row["local_date"] for row in answer["rows"]]
        assert months and max(months) < ms_this_month, f"{name} shows the month under way"
    for name in ("Share of your listening", "Monthly rank"):
        answer = answers[name]
        months = [datetime.fromtimestamp(row["month" if name == "Monthly rank" else "local_date"] / 1000, UTC)
                  for row in answer["rows"]]  # fmt: skip
        # every month between the first and the last is a row, null where nothing was played
        steps = {(b.year - a.year) * 12 + b.month - a.month for a, b in pairwise(months)}
        assert steps == {1}, (name, months)
    rank = answers["Monthly rank"]
    assert json.loads(rank["form"]["echart_options"])["yAxis"]["inverse"] is True
    assert rank["form"]["y_axis_bounds"][0] == 1


def test_compare_with_a_friend_shows_only_what_both_agreed(
    bi_stack: BIStack, browser: BrowserContext
) -> None:
    """carol, with no friend, is told so; alice, whose invitation bob accepted, sees their comparison
    as recounted from gold, and nothing of it once bob withdraws. No error panel, no endless spinner
    (chart_answers waits for every chart to draw)."""
    slug, friend_name = "compare-with-a-friend", "Bob Marley-Fan"
    ids = {chart_id: name for name, chart_id in bi_stack.provisioned.charts.items()}

    def visit(user: str, picture: str) -> tuple[dict[str, dict], dict[str, dict]]:
        page = login(browser, bi_stack.url, user, bi_stack.password(user))
        answers = chart_answers(page, bi_stack.url, slug, ids)
        charts = {c["title"]: c for c in page.evaluate(CHART_REPORT)}
        screenshot(page, picture)
        page.close()
        assert set(charts) == {"Friends and affinity", "Shared top artists"}
        assert all(c["errors"] == 0 for c in charts.values()), charts
        return answers, charts

    answers, charts = visit("carol", "compare-with-a-friend-carol.png")
    assert "No friend has accepted yet" in charts["Friends and affinity"]["text"]
    assert answers["Shared top artists"]["rows"] == []

    conn = connect(bi_stack.settings.database_url)
    try:
        consent.invite(conn, "alice", "bob")
        consent.accept(conn, "bob", "alice")
        expected = recount(bi_stack.query, "alice", "bob")
        assert expected["shared"], "alice and bob share top artists (else the page shows little)"
        answers, charts = visit("alice", "compare-with-a-friend-alice.png")
        (row,) = answers["Friends and affinity"]["rows"]
        assert (row["friend_name"], row["affinity"], row["shared_top_artists"]) == (
            friend_name,
            expected["affinity"],
            len(expected["shared"]),
        )
        shared = answers["Shared top artists"]["rows"]
        assert [(r["your_rank"], r["friend_rank"]) for r in shared] == [s[1:3] for s in expected["shared"]]
        assert friend_name in charts["Friends and affinity"]["text"]
        assert not MD5.search(charts["Shared top artists"]["text"])

        # the admin is no listener: no comparison of anyone, and no error either
        page = login(browser, bi_stack.url, "admin", password(bi_stack, "admin"))
        answers = chart_answers(page, bi_stack.url, slug, ids)
        charts = {c["title"]: c for c in page.evaluate(CHART_REPORT)}
        screenshot(page, "compare-with-a-friend-admin.png")
        page.close()
        assert all(c["errors"] == 0 for c in charts.values()), charts
        assert answers["Friends and affinity"]["rows"] == answers["Shared top artists"]["rows"] == []

        consent.withdraw(conn, "bob", "alice")  # gone at once, whatever Superset had cached
        answers, charts = visit("alice", "compare-with-a-friend-alice-withdrawn.png")
        assert "No friend has accepted yet" in charts["Friends and affinity"]["text"]
        assert friend_name not in json.dumps(answers)
    finally:
        with conn.cursor() as cur:
            cur.execute("delete from tt_security.friendships")
        conn.commit()
        conn.close()
