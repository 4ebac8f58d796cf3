"""Pull a listener's ListenBrainz listens (GET /1/user/{name}/listens) into bronze.listenbrainz_api_listens.

liblistenbrainz builds the request (`get_listens`: max_ts, count, the user token as `Authorization:
Token`) and checks every listen of a page converts (a malformed one fails the page). Its own transport
is replaced (`BoundedListenBrainz._get`): the library retries a 429 five times and sleeps out a rate-limit
window silently, with no timeout; here every request is bounded, and a 429 is handed back with its
X-RateLimit-Reset-In so the pull waits once if short, else defers to the next tick. The raw JSON of each
page is kept, because bronze stores each listen as ListenBrainz sent it.

Paging: newest first, up to 1000 listens a page; each next page asks `max_ts` = the oldest listened_at seen
(exclusive), until a page reaches the newest listen already held (min_ts), is short, or the page cap
(settings.live_max_pages) is reached. Several listens may share a second across a page boundary: the
boundary second is asked again (max_ts + 1) and the primary key drops what was stored twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import liblistenbrainz
import requests
from liblistenbrainz import errors

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

PAGE_LIMIT = 1000  # the API's MAX_ITEMS_PER_GET
TABLE = LiveTable(
    service="listenbrainz",
    items="bronze.listenbrainz_api_listens",
    time_column="listened_at",
    key_column="listen_key",
    account_column="listenbrainz_user",
    pulls="bronze.listenbrainz_pulls",
)


class RateLimited(errors.ListenBrainzAPIException):
    def __init__(self, reset_in: int, message: str | None) -> None:
        super().__init__(429, message)
        self.reset_in = reset_in


class BoundedListenBrainz(liblistenbrainz.ListenBrainz):
    """liblistenbrainz's client on a bounded session of ours, keeping the last raw answer."""

    def __init__(self, settings: Settings, http: requests.Session) -> None:
        super().__init__(api_base_url=settings.listenbrainz_api_url)
        self._http = http
        self._timeout = (float(settings.live_timeout_s), float(settings.live_timeout_s))
        self.last_body: Any = None

    def _get(
        self, endpoint: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        headers = dict(headers or {})
        if self._auth_token:
            headers["Authorization"] = f"Token {self._auth_token}"
        response = self._http.get(
            self.api_base_url.rstrip("/") + endpoint,
            params=params or {},
            headers=headers,
            timeout=self._timeout,
        )
        self._update_rate_limit_variables(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        message = body.get("error") if isinstance(body, dict) else one_line(response.text, 120) or None
        if response.status_code == 429:
            raise RateLimited(self.ratelimit_reset_in if self.ratelimit_reset_in is not None else 1, message)
        if response.status_code >= 400:
            raise errors.ListenBrainzAPIException(status_code=response.status_code, message=message)
        if response.status_code == 204:
            raise errors.ListenBrainzAPIException(status_code=204)
        if body is None:
            raise errors.ListenBrainzAPIException(
                status_code=response.status_code,
                message="a body that is not JSON (empty, truncated or a page)",
            )
        self.last_body = body
        return body


def listen_key(listen: dict[str, Any]) -> str:
    """ListenBrainz's own message id when there is one, else the names (listens it could not map)."""
    msid = listen.get("recording_msid") or (listen.get("track_metadata") or {}).get(
        "additional_info", {}
    ).get("recording_msid")
    if isinstance(msid, str) and msid:
        return msid
    meta = listen.get("track_metadata") or {}
    names = (str(meta.get("artist_name") or ""), str(meta.get("track_name") or ""))
    return hashlib.md5("\x1f".join(names).encode()).hexdigest()


def _listens(body: Any, page: int) -> list[Received]:
    payload = body.get("payload") if isinstance(body, dict) else None
    listens = payload.get("listens") if isinstance(payload, dict) else None
    if not isinstance(listens, list):
        raise LiveFault(
            "failed", f"ListenBrainz answered page {page} without payload.listens; nothing was stored"
        )
    received = []
    for n, listen in enumerate(listens, 1):
        at = listen.get("listened_at") if isinstance(listen, dict) else None
        if isinstance(at, bool) or not isinstance(at, int):
            raise LiveFault(
                "failed",
                f"ListenBrainz's page {page}, listen {n} has no listened_at number "
                f"({one_line(repr(at), 40)}); nothing of this pull was stored",
            )
        received.append(Received(datetime.fromtimestamp(at, UTC), listen_key(listen), listen))
    return received


def _fault(exc: errors.ListenBrainzException, name: str) -> LiveFault:
    if isinstance(exc, errors.ListenBrainzAPIException):
        detail = f"{exc.status_code}" + (f": {one_line(exc.message, 160)}" if exc.message else "")
        if exc.status_code == 404:
            return LiveFault(
                "failed",
                f"ListenBrainz has no user {name} ({detail}); set the right name with "
                "`tracktracker users connect-listenbrainz USER NAME`",
            )
        if exc.status_code == 401:
            return LiveFault(
                "failed",
                f"ListenBrainz refused the stored user token ({detail}); set a current one with "
                "`tracktracker users connect-listenbrainz USER NAME --token-file FILE`",
            )
        return LiveFault("failed", f"ListenBrainz answered {detail}; the next pull tries again")
    return LiveFault("failed", f"ListenBrainz failed: {type(exc).__name__}: {one_line(exc, 160)}")


def fetch(
    settings: Settings,
    http: requests.Session,
    name: str,
    token: str | None,
    previous: datetime | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Every listen of `name` newer than `previous`, newest first, within the page cap."""
    client = BoundedListenBrainz(settings, http)
    if token:
        client.set_auth_token(token, check_validity=False)  # a refused token shows as a 401 below
    min_ts = int(previous.timestamp()) if previous else None
    received: dict[tuple[datetime, str], Received] = {}
    max_ts: int | None = None
    pages, waited, reached = 0, False, False
    while pages < settings.live_max_pages:
        try:
            client.get_listens(name, max_ts=max_ts, count=PAGE_LIMIT)  # converts (checks) each listen
        except RateLimited as exc:
            if waited or exc.reset_in > settings.live_max_wait_s:
                raise LiveFault(
                    "deferred",
                    f"rate limited: ListenBrainz asks to wait {exc.reset_in} s; the next tick retries",
                    retry_after=exc.reset_in,
                ) from None
            sleep(exc.reset_in)
            waited = True
            continue
        except errors.ListenBrainzException as exc:
            raise _fault(exc, name) from None
        except (KeyError, TypeError, AttributeError) as exc:  # a listen liblistenbrainz cannot read
            raise LiveFault(
                "failed",
                f"ListenBrainz answered a listen of an unexpected shape ({type(exc).__name__}: "
                f"{one_line(exc, 80)}); nothing of this pull was stored",
            ) from None
        except requests.RequestException as exc:
            raise LiveFault("failed", f"could not reach ListenBrainz ({one_line(exc, 160)})") from None
        pages += 1
        page = _listens(client.last_body, pages)
        for listen in page:
            if min_ts is None or listen.at.timestamp() > min_ts:
                received[(listen.at, listen.key)] = listen
        oldest = min((int(r.at.timestamp()) for r in page), default=None)
        if oldest is None or len(page) < PAGE_LIMIT or (min_ts is not None and oldest <= min_ts):
            reached = True
            break
        # the boundary second again (listens sharing it may be cut off), unless the page is that second
        max_ts = oldest + 1 if max_ts is None or oldest + 1 < max_ts else oldest
    note = ""
    if not reached and received:
        older = min(r.at for r in received.values())
        note = (
            f"stopped after {settings.live_max_pages} pages (TRACKTRACKER_LIVE_MAX_PAGES): listens before "
            f"{older:%Y-%m-%d %H:%M} were not pulled; import the ListenBrainz export for them"
        )
    return Fetched(list(received.values()), pages, note)


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
    account = user.listenbrainz_user if user else None

    def fetch_user(u: User, previous: datetime | None) -> Fetched:
        token = registry.listenbrainz_token(user_id)
        return fetch(settings, http, quote(account or "", safe=""), token, previous, sleep=sleep)

    return pull_user(conn, registry, TABLE, user_id, account, fetch_user)
