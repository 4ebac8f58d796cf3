"""Album covers and artist pictures: the top lists show the catalog's image where there is one (loaded
by the browser from a host the content security policy allows), a drawn placeholder otherwise, and a
picture from any other host is refused. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from tracktracker_assets.dashboards.config import DEFAULT_IMAGE_HOSTS, image_hosts

from .browser import charts_of, chromium, dashboard_tabs, login, open_tab, screenshot
from .conftest import MARKUP_IN_A_NAME, BIStack
from .expected import page_link
from .images import image_host

# each row of a table chart: its picture (src as written, size as decoded, whether the load finished),
# its cells' text, and whether any markup besides the picture and a link made it into the row
ROWS = """
(title) => {
  const holder = [...document.querySelectorAll('.dashboard-component-chart-holder')]
    .find(h => (h.querySelector('[data-test="editable-title"]') || {}).innerText === title);
  return [...holder.querySelectorAll('tbody tr')].map(tr => {
    const img = tr.querySelector('img.tt-picture');
    return {
      src: img && img.getAttribute('src'),
      width: img ? img.naturalWidth : 0,
      complete: img ? img.complete : false,
      attributes: img ? [...img.attributes].map(a => a.name).sort() : [],
      cells: [...tr.cells].map(c => c.innerText.trim()),
      stray: tr.querySelectorAll('b, script').length,
    };
  });
}
"""
UNKNOWN_ALBUM = ("(album not in the export)", "(various artists)")
PICTURES_LOADED = """
() => [...document.querySelectorAll('img.tt-picture')].length > 0
  && [...document.querySelectorAll('img.tt-picture')].every(img => img.complete)
"""
# an image from `src`, added to the page: did it load, and did the content security policy refuse it
TRY_IMAGE = """
(src) => new Promise(resolve => {
  let refused = false;
  document.addEventListener('securitypolicyviolation', e => {
    if (e.blockedURI.startsWith(src)) refused = true;
  });
  const img = new Image();
  img.onload = () => resolve({loaded: img.naturalWidth > 0, refused});
  img.onerror = () => setTimeout(() => resolve({loaded: false, refused}), 200);
  img.src = src;
  document.body.appendChild(img);
})
"""


def test_image_hosts_are_origins_with_spotifys_by_default() -> None:
    assert image_hosts(None) == image_hosts("") == DEFAULT_IMAGE_HOSTS == ("https://i.scdn.co",)
    assert image_hosts("https://i.scdn.co, http://127.0.0.1:8099/") == (
        "https://i.scdn.co",
        "http://127.0.0.1:8099",
    )
    assert image_hosts("none") == ()
    for bad in (
        "*",
        "https://i.scdn.co/image",
        "i.scdn.co",
        "https://a.example; script-src *",
        "'unsafe-inline'",
    ):
        with pytest.raises(SystemExit, match="TRACKTRACKER_SUPERSET_IMAGE_HOSTS"):
            image_hosts(bad)


def test_the_content_security_policy_allows_exactly_the_image_hosts(bi_stack: BIStack) -> None:
    with urllib.request.urlopen(f"{bi_stack.url}/login/") as response:
        policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["img-src"] == ["'self'", "blob:", "data:", bi_stack.images.origin], policy
    assert directives["default-src"] == ["'self'"] and directives["connect-src"] == ["'self'"], policy


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def catalog(stack: BIStack, dim: str, key: str, names: str) -> dict[tuple, str | None]:
    """alice's albums or artists by their shown name(s) -> the catalog's image URL."""
    rows = stack.query(
        f"select {names}, d.image_url from gold.{dim} d where d.{key} in "
        f"(select {key} from gold.fct_plays where user_id = 'alice')"
    )
    return {tuple(row[:-1]): row[-1] for row in rows}


@pytest.mark.slow
def test_top_lists_show_catalog_pictures_or_a_placeholder(bi_stack: BIStack, browser: BrowserContext) -> None:
    host = bi_stack.images
    page = login(browser, bi_stack.url, "alice", bi_stack.password("alice"))
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{bi_stack.url}/superset/dashboard/listening-history/")
    (names,) = [names for tab, names in dashboard_tabs("listening-history") if tab == "Top and when"]
    open_tab(page, "Top and when")
    charts_of(page, len(names))
    page.wait_for_function(PICTURES_LOADED, timeout=30_000)
    albums = page.evaluate(ROWS, "Top albums")
    artists = page.evaluate(ROWS, "Top artists")
    screenshot(page, "listening-history-pictures-alice.png")

    album_images = catalog(bi_stack, "dim_album", "album_key", "d.album_name, d.artist_name")
    artist_images = catalog(bi_stack, "dim_artist", "artist_key", "d.artist_name")
    for rows, images, name_of in (
        (albums, album_images, lambda r: tuple(r["cells"][1:3])),
        (artists, artist_images, lambda r: (r["cells"][1],)),
    ):
        assert len(rows) == 10, rows
        shown = 0
        for row in rows:
            name = name_of(row)
            # the plays without an album are one group of no catalog album
            assert name in images or name == UNKNOWN_ALBUM, row
            url = images.get(name)
            assert row["attributes"] == ["alt", "class", "height", "src", "style", "width"], row
            assert row["stray"] == 0, row  # an image URL's markup stays text inside the attribute
            if url is not None and url.startswith(host.origin):
                # the catalog's image, from the allowed host, loaded (the test image is 64 px wide)
                assert row["src"] == url and row["complete"] and row["width"] == 64, row
                shown += 1
            else:
                # no image, or one that is not an http(s) URL: the drawn placeholder (32 px)
                assert row["src"].startswith("data:image/svg+xml,") and row["width"] == 32, (row, url)
        # alice's first and third (the third's URL carries quotes and markup) have pictures
        assert shown == 2, rows
    # her second album's name ends in markup and an entity: shown as typed, not as HTML
    assert [r["cells"][1] for r in albums if r["cells"][1].endswith(MARKUP_IN_A_NAME)], albums
    assert {path.split("?")[0] for path in host.requested} >= {
        f"/image/{dim}-{n}.png" for dim in ("dim_album", "dim_artist") for n in (1, 3)
    }

    # a picture from a host the policy does not name is refused, and never requested
    with image_host(rgb=(200, 30, 30)) as other:
        outcome = page.evaluate(TRY_IMAGE, other.url("not-allowed"))
        assert outcome == {"loaded": False, "refused": True}
        assert other.requested == []
        allowed = page.evaluate(TRY_IMAGE, host.url("allowed"))
        assert allowed == {"loaded": True, "refused": False}
    assert [m for m in console if "Content Security Policy" not in m and "scarf.sh" not in m] == []
    page.close()


@pytest.mark.slow
def test_the_artist_page_shows_the_artists_picture_or_a_placeholder(
    bi_stack: BIStack, browser: BrowserContext
) -> None:
    """alice's first, second and third artists (by plays, as the catalog fixture picked them): the
    first and third have catalog pictures (the third's URL carries quotes and markup), the second none."""
    ranked = bi_stack.query(
        "select d.artist_name, d.image_url from gold.fct_plays f join gold.dim_artist d using (artist_key) "
        "where f.user_id = 'alice' and f.content_type = 'track' group by f.artist_key, d.artist_name, "
        "d.image_url order by count(*) filter (where f.is_counted_play) desc, f.artist_key limit 3"
    )
    assert [url is not None for _, url in ranked] == [True, False, True], ranked
    page = login(browser, bi_stack.url, "alice", bi_stack.password("alice"))
    (names,) = [names for _, names in dashboard_tabs("artist")]
    literal: list[str] = []
    for number, (artist, url) in enumerate(ranked, start=1):
        (href,) = re.findall(r'href="([^"]+)"', page_link("artist", "artist", artist, artist))
        page.goto(bi_stack.url + href)
        charts_of(page, len(names))
        page.wait_for_function(PICTURES_LOADED, timeout=30_000)
        (row,) = page.evaluate(ROWS, "First and last play of the artist")
        screenshot(page, f"artist-page-picture-{number}-alice.png")
        assert row["attributes"] == ["alt", "class", "height", "src", "style", "width"], row
        assert row["stray"] == 0, row
        if url is not None:
            # the catalog's image from the allowed host, loaded (the test image is 64 px wide)
            assert url.startswith(bi_stack.images.origin)
            assert row["src"] == url and row["complete"] and row["width"] == 64, row
        else:  # the drawn placeholder (32 px)
            assert row["src"].startswith("data:image/svg+xml,") and row["width"] == 32, row
        # the rest of the row: the artist's first and last play and totals, as before
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row["cells"][1]), row
        albums = page.evaluate(ROWS, "Albums of the artist")
        assert albums and all(album["stray"] == 0 for album in albums), albums
        literal += [album["cells"][0] for album in albums if MARKUP_IN_A_NAME in album["cells"][0]]
    # alice's second album (its name ends in markup) is by one of them: its name reads as typed
    assert literal, "no album named with markup on the artists' pages"
    page.close()
