"""Pull a listener's Last.fm scrobbles (user.getRecentTracks) into bronze.lastfm_recent_tracks.

pylast builds and names the request (its Network holds the API key and the web-service address; its
_Request adds api_key and method) and gives the error types and Last.fm's status codes. pylast reads the
XML format, but bronze keeps each item as Last.fm sends it in JSON (the shape the file exports and the
samples have), so the page is fetched with `format=json` on a bounded session of our own.

Paging: `from` = the newest scrobble held + 1 s, `to` = the pull's start (pages stay put while new
scrobbles arrive), 200 a page, newest first, at most settings.live_max_pages pages. Last.fm's JSON quirks
handled: every number is a string; a now-playing row (`@attr.nowplaying`, no date) sits on top of the
page and is not a scrobble; one result comes as an object instead of a list; no result as `[]` or no
`track` at all; errors are `{"error": N, "message": ...}` with any HTTP status.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pylast
import requests

from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.faults import one_line
from tracktracker_assets.users.registry import Registry, User
from tracktracker_assets.warehouse.livepulls import (
    Fetched,
    LiveFault,
    LiveOutcome,
    LiveTable,
    Received,
    pull_user,
)

SERVICE = "Last.fm"
PAGE_LIMIT = 200  # Last.fm's maximum for user.getRecentTracks
TABLE = LiveTable(
    service="lastfm",
    items="bronze.lastfm_recent_tracks",
    time_column="scrobbled_at",
    key_column="track_key",
    account_column="lastfm_user",
    pulls="bronze.lastfm_pulls",
)
RATE_LIMIT_BACKOFF_S = 5  # Last.fm says nothing about how long: one pause, then the next tick


def network(settings: Settings) -> pylast.LastFMNetwork:
    if not settings.lastfm_api_key:
        raise LiveFault(
            "failed",
            "Last.fm is not configured: set TRACKTRACKER_LASTFM_API_KEY (an API account from "
            "last.fm/api/account/create)",
        )
    return pylast.LastFMNetwork(api_key=settings.lastfm_api_key)


def _text(value: Any) -> str:
    """A name as Last.fm gives it: {"#text": ...} (plain), {"name": ...} (extended) or a string."""
    if isinstance(value, dict):
        value = value.get("#text", value.get("name"))
    return value if isinstance(value, str) else ""


def track_key(item: dict[str, Any]) -> str:
    """The same scrobble pulled twice has the same key, whatever changed around it (images, loved)."""
    names = (_text(item.get("artist")), _text(item.get("name")), _text(item.get("album")))
    return hashlib.md5("\x1f".join(names).encode()).hexdigest()


def _error(body: Any, lastfm: pylast.LastFMNetwork) -> pylast.WSError | None:
    if isinstance(body, dict) and "error" in body:
        return pylast.WSError(lastfm, str(body.get("error")), one_line(body.get("message") or "", 200))
    return None


def fetch_page(
    settings: Settings, http: requests.Session, lastfm: pylast.LastFMNetwork, params: dict[str, Any]
) -> dict[str, Any]:
    """One page of user.getRecentTracks as JSON; Last.fm's own errors raised as pylast.WSError."""
    request = pylast._Request(lastfm, "user.getRecentTracks", params)  # adds api_key and method
    query = {**request.params, "format": "json"}
    timeout = (float(settings.live_timeout_s), float(settings.live_timeout_s))
    try:
        response = http.get(settings.lastfm_api_url, params=query, timeout=timeout)
    except requests.RequestException as exc:
        raise pylast.NetworkError(lastfm, exc) from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    error = _error(body, lastfm)
    if error is not None:
        raise error
    if response.status_code >= 400 or not isinstance(body, dict):
        raise pylast.MalformedResponseError(
            lastfm, f"HTTP {response.status_code}, {one_line(response.text, 120) or 'an empty body'}"
        )
    return body


def _fault(exc: pylast.PyLastError, name: str) -> LiveFault:
    if isinstance(exc, pylast.WSError):
        status, detail = str(exc.status), str(exc.details)
        if status == str(pylast.STATUS_LOGIN_REQUIRED):
            return LiveFault(
                "failed",
                f"the Last.fm profile {name} hides its recent listening (error 17: {detail}); turn off "
                "'Hide recent listening information' in Last.fm's privacy settings, then the next pull "
                "loads it",
            )
        if status == str(pylast.STATUS_INVALID_PARAMS):
            return LiveFault(
                "failed",
                f"Last.fm has no user {name} (error 6: {detail}); set the right name with "
                "`tracktracker users connect-lastfm USER NAME`",
            )
        if status in (str(pylast.STATUS_INVALID_API_KEY), str(pylast.STATUS_API_KEY_SUSPENDED)):
            return LiveFault(
                "failed",
                f"Last.fm refused the API key (error {status}: {detail}); check TRACKTRACKER_LASTFM_API_KEY",
            )
        return LiveFault("failed", f"Last.fm answered error {status}: {detail}; the next pull tries again")
    if isinstance(exc, pylast.NetworkError):
        return LiveFault("failed", f"could not reach Last.fm ({one_line(exc.underlying_error, 160)})")
    return LiveFault("failed", f"Last.fm answered in an unexpected shape ({one_line(exc, 200)})")


def _scrobbles(body: dict[str, Any], page: int) -> tuple[list[Received], int]:
    """The page's scrobbles (now-playing rows left out) and its totalPages."""
    recent = body.get("recenttracks")
    if not isinstance(recent, dict):
        raise LiveFault(
            "failed", f"Last.fm answered page {page} without recenttracks; nothing of it was stored"
        )
    attr = recent.get("@attr") or {}
    try:
        total_pages = int(str(attr.get("totalPages", "0")))
    except ValueError:
        total_pages = 0
    tracks = recent.get("track", [])
    if isinstance(tracks, dict):  # one result: an object, not a list
        tracks = [tracks]
    if not isinstance(tracks, list):
        raise LiveFault(
            "failed", f"Last.fm answered page {page} with a track that is neither list nor object"
        )
    received = []
    for n, item in enumerate(tracks, 1):
        if not isinstance(item, dict):
            raise LiveFault("failed", f"Last.fm's page {page}, item {n} is not an object; nothing was stored")
        if str((item.get("@attr") or {}).get("nowplaying", "")).lower() == "true":
            continue  # playing now: not a scrobble yet (it comes back dated once scrobbled)
        uts = str((item.get("date") or {}).get("uts", ""))
        if not uts.isdigit():
            raise LiveFault(
                "failed",
                f"Last.fm's page {page}, item {n} has no date.uts ({one_line(repr(item.get('date')), 60)}); "
                "nothing of this pull was stored",
            )
        received.append(Received(datetime.fromtimestamp(int(uts), UTC), track_key(item), item))
    return received, total_pages


def fetch(
    settings: Settings,
    http: requests.Session,
    name: str,
    previous: datetime | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
) -> Fetched:
    """Every scrobble of `name` newer than `previous`, newest first, within the page cap."""
    lastfm = network(settings)
    params: dict[str, Any] = {"user": name, "limit": PAGE_LIMIT}
    if previous is not None:
        params["from"] = int(previous.timestamp()) + 1
    params["to"] = int((now or datetime.now(UTC)).timestamp()) + 1
    received: list[Received] = []
    page, total_pages, waited, fetched = 1, 1, False, 0
    while page <= total_pages and page <= settings.live_max_pages:
        try:
            body = fetch_page(settings, http, lastfm, {**params, "page": page})
        except pylast.WSError as exc:
            if str(exc.status) == str(pylast.STATUS_RATE_LIMIT_EXCEEDED):
                if waited or settings.live_max_wait_s < RATE_LIMIT_BACKOFF_S:
                    raise LiveFault(
                        "deferred",
                        f"rate limited by Last.fm (error 29: {exc.details}); the next tick retries",
                    ) from None
                sleep(RATE_LIMIT_BACKOFF_S)
                waited = True
                continue
            raise _fault(exc, name) from None
        except pylast.PyLastError as exc:
            raise _fault(exc, name) from None
        fetched += 1
        scrobbles, total_pages = _scrobbles(body, page)
        received += scrobbles
        if not scrobbles:
            break
        page += 1
    note = ""
    if fetched >= settings.live_max_pages and page <= total_pages and received:
        oldest = min(r.at for r in received)
        note = (
            f"stopped after {settings.live_max_pages} pages (TRACKTRACKER_LIVE_MAX_PAGES): scrobbles before "
            f"{oldest:%Y-%m-%d %H:%M} were not pulled; import the Last.fm export for them"
        )
    return Fetched(received, fetched, note)


def pull(
    settings: Settings,
    conn: Any,
    registry: Registry,
    user_id: str,
    http: requests.Session,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> LiveOutcome:
    user = registry.get_user(user_id)
    account = user.lastfm_user if user else None

    def fetch_user(u: User, previous: datetime | None) -> Fetched:
        return fetch(settings, http, account or "", previous, sleep=sleep)

    return pull_user(conn, registry, TABLE, user_id, account, fetch_user)
