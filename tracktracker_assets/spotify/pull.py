"""Pull a listener's recently-played items into bronze.

The `after` cursor is the newest played_at already stored, so a pull asks only for what is new and
re-running a pull is harmless (items are keyed by user + played_at). Spotify keeps only the newest 50:
a pull that returns 50 items whose oldest is newer than the last stored play means plays were lost
in between; the pull log records the size of that gap for the asset check.

Faults stay with their user, whatever Spotify answers: every outcome (ok, deferred, failed,
needs_reauth) gets a row in bronze.spotify_pulls with a one-line message, and a problem is kept in the
registry's last_error for `tracktracker status` until a good pull clears it. A 429 waits at most
settings.spotify_max_wait_s and otherwise defers to the next tick; only a refused consent
(invalid_grant, a 401 after a fresh token, a missing scope) marks the user needs_reauth: 5xx, timeouts,
unreadable or malformed answers, from the Web API or the accounts service, fail this pull only.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from psycopg2.extras import execute_values
from pymongo.errors import PyMongoError
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.client import SCOPE, user_api
from tracktracker_assets.spotify.faults import (
    ACCOUNTS,
    WEB_API,
    oauth_message,
    one_line,
    transport_message,
    web_api_message,
)
from tracktracker_assets.users.registry import Registry, RegistryError
from tracktracker_assets.warehouse.locks import bronze_write

PAGE_LIMIT = 50
PROBLEM_STATUSES = ("failed", "needs_reauth")  # the user was not pulled and something must change


@dataclass
class PullOutcome:
    user_id: str
    status: str  # ok | deferred | failed | needs_reauth | skipped
    items: int = 0
    inserted: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    previous_last: datetime | None = None
    gap_seconds: float | None = None
    retry_after_s: int | None = None
    message: str = ""
    seconds: float = 0.0  # wall time spent on this user

    @property
    def lost_plays(self) -> bool:
        return bool(self.gap_seconds and self.gap_seconds > 0)

    def as_record(self) -> dict[str, Any]:
        """JSON-ready, for the run's metadata (the CLI reads it from there)."""
        return {
            "user_id": self.user_id,
            "status": self.status,
            "items": self.items,
            "inserted": self.inserted,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "gap_seconds": self.gap_seconds,
            "retry_after_s": self.retry_after_s,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


class PullFault(Exception):
    """How one user's pull ended early, already described in one line."""

    def __init__(
        self, status: str, message: str, *, retry_after: int | None = None, reauth_reason: str | None = None
    ) -> None:
        self.status = status
        self.message = one_line(message)
        self.retry_after = retry_after
        self.reauth_reason = one_line(reauth_reason) if reauth_reason else None
        super().__init__(self.message)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def last_stored_play(conn: Any, user_id: str) -> datetime | None:
    with conn.cursor() as cur:
        cur.execute(
            "select max(played_at) from bronze.spotify_recently_played where user_id = %s", (user_id,)
        )
        value = cur.fetchone()[0]
    conn.rollback()
    return value


def _retry_after(headers: Any) -> int:
    try:
        return max(0, int(str((headers or {}).get("Retry-After", "1")).strip()))
    except ValueError:  # an HTTP date or garbage: wait the shortest sensible time once
        return 1


def _oauth_fault(exc: SpotifyOauthError, user_id: str) -> PullFault:
    if exc.error == "invalid_grant":  # consent revoked or older than six months
        reason = one_line(f"invalid_grant: {exc.error_description or 'refresh token refused'}", 200)
        return PullFault(
            "needs_reauth",
            f"Spotify refused the stored consent ({reason}); reconnect with "
            f"`tracktracker users connect {user_id}`",
            reauth_reason=reason,
        )
    if exc.error == "invalid_client":  # the app's id or secret, not this listener: everyone fails alike
        return PullFault(
            "failed",
            f"{oauth_message(exc)}: check TRACKTRACKER_SPOTIFY_CLIENT_ID and "
            "TRACKTRACKER_SPOTIFY_CLIENT_SECRET",
        )
    return PullFault("failed", f"{oauth_message(exc)}; the next pull tries again")


def _web_api_fault(exc: SpotifyException, user_id: str) -> PullFault:
    message = web_api_message(exc)
    if exc.http_status == 401 or (exc.http_status == 403 and "scope" in str(exc.msg).lower()):
        return PullFault(
            "needs_reauth",
            f"{message}; reconnect with `tracktracker users connect {user_id}`",
            reauth_reason=message,
        )
    if exc.http_status == 403:
        return PullFault(
            "failed",
            f"{message} (a development-mode app serves only the Spotify accounts added under its "
            "Users and access at developer.spotify.com/dashboard)",
        )
    return PullFault("failed", message)


def _ensure_token(manager: Any, settings: Settings, user_id: str, *, force: bool) -> None:
    """A usable access token before any Web API call, so accounts-service faults are told apart."""
    cache = manager.cache_handler
    cached = cache.get_cached_token()
    if not cached or not cached.get("refresh_token"):
        # spotipy would otherwise start an interactive sign-in inside the run
        raise PullFault(
            "needs_reauth",
            f"no Spotify consent is stored; connect with `tracktracker users connect {user_id}`",
            reauth_reason="no stored Spotify token",
        )
    try:
        token = (
            manager.refresh_access_token(cached["refresh_token"]) if force else manager.validate_token(cached)
        )
    except SpotifyOauthError as exc:
        raise _oauth_fault(exc, user_id) from None
    except (RegistryError, PyMongoError):
        raise
    except Exception as exc:  # timeouts, connections, bodies that are not a token
        raise PullFault("failed", transport_message(exc, ACCOUNTS, settings.spotify_timeout_s)) from None
    if token is None:  # validate_token: the stored consent lacks the scope
        raise PullFault(
            "needs_reauth",
            f"the stored consent does not grant {SCOPE}; reconnect with "
            f"`tracktracker users connect {user_id}`",
            reauth_reason=f"consent lacks {SCOPE}",
        )
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        cache.save_token_to_cache({**cached, "expires_at": 0})  # spotipy cached it: refresh next time
        raise PullFault("failed", f"{ACCOUNTS} answered without an access token; the next pull tries again")


def _item_problem(item: Any) -> tuple[datetime, str | None]:
    """An item's played_at, and what is wrong with the item if anything."""
    epoch = datetime.fromtimestamp(0, UTC)
    if not isinstance(item, dict):
        return epoch, f"{type(item).__name__} instead of an object"
    played_at = item.get("played_at")
    try:
        at = _parse_time(played_at) if isinstance(played_at, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        return epoch, f"played_at {one_line(repr(played_at), 60)} is not a time with a zone"
    track = item.get("track")
    if not isinstance(track, dict | None) or not isinstance((track or {}).get("id"), str | None):
        return at, "track is not an object with a string id"
    return at, None


def _plays(page: Any) -> list[tuple[datetime, dict[str, Any]]]:
    """The page's items with their played_at, or a fault: a page is stored whole or not at all."""
    if page is None:  # spotipy's answer to a 2xx body it cannot decode
        raise PullFault(
            "failed",
            f"{WEB_API} answered with a body that is not JSON (empty, truncated or an error page)",
        )
    items = page.get("items") if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise PullFault(
            "failed", f"{WEB_API} answered with JSON that is not a recently-played page (no items list)"
        )
    plays = []
    for n, item in enumerate(items, 1):
        at, problem = _item_problem(item)
        if problem:
            raise PullFault(
                "failed",
                f"{WEB_API} answered with a malformed item {n} of {len(items)} ({problem}); "
                "nothing of this page was stored",
            )
        plays.append((at, item))
    return plays


def _fetch(
    api: Any, user_id: str, after_ms: int | None, settings: Settings, sleep: Callable[[float], None]
) -> list[tuple[datetime, dict[str, Any]]]:
    """One recently-played page; honours a short Retry-After once, and refreshes a rejected token once."""
    manager = api.auth_manager
    _ensure_token(manager, settings, user_id, force=False)
    refreshed = waited = False
    while True:
        try:
            page = api.current_user_recently_played(limit=PAGE_LIMIT, after=after_ms)
        except SpotifyOauthError as exc:  # spotipy refreshed on its own (a token shorter-lived than 60 s)
            raise _oauth_fault(exc, user_id) from None
        except SpotifyException as exc:
            if exc.http_status == 429:
                retry_after = _retry_after(exc.headers)
                if waited or retry_after > settings.spotify_max_wait_s:
                    raise PullFault(
                        "deferred",
                        f"rate limited: Spotify asks to wait {retry_after} s; the next tick retries",
                        retry_after=retry_after,
                    ) from None
                sleep(retry_after)
                waited = True
                continue
            if exc.http_status == 401 and not refreshed:
                # the server expired the token before its expires_at: refresh once, then retry
                _ensure_token(manager, settings, user_id, force=True)
                refreshed = True
                continue
            raise _web_api_fault(exc, user_id) from None
        except (RegistryError, PyMongoError):
            raise
        except Exception as exc:  # timeouts, connections, and answers spotipy itself chokes on
            raise PullFault("failed", transport_message(exc, WEB_API, settings.spotify_timeout_s)) from None
        return _plays(page)


def _note_problem(registry: Registry, outcome: PullOutcome, reauth_reason: str | None = None) -> None:
    if outcome.status == "needs_reauth":
        registry.set_status(outcome.user_id, "needs_reauth", reauth_reason or outcome.message)
    else:
        registry.record_pull_problem(outcome.user_id, outcome.message)


def pull_user(
    settings: Settings,
    conn: Any,
    registry: Registry,
    user_id: str,
    http: requests.Session,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> PullOutcome:
    """Pull one user and store what is new. Never raises for Spotify's faults: they become the outcome."""
    started = time.monotonic()
    user = registry.get_user(user_id)
    if user is None or not user.connected:
        return PullOutcome(user_id, "skipped", message="not connected to Spotify")
    if user.status != "active":
        return PullOutcome(
            user_id, "skipped", message=f"status {user.status}: reconnect with `users connect`"
        )
    previous = last_stored_play(conn, user_id)
    after_ms = int(previous.timestamp() * 1000) if previous else None
    try:
        plays = _fetch(user_api(settings, registry, user_id, http), user_id, after_ms, settings, sleep)
    except PullFault as fault:
        outcome = PullOutcome(
            user_id,
            fault.status,
            retry_after_s=fault.retry_after,
            message=fault.message,
            previous_last=previous,
        )
        # the pull log below keeps the fault even when the registry is what fails next; a
        # needs_reauth it could not note is found again by the next pull
        with contextlib.suppress(RegistryError, PyMongoError):
            _note_problem(registry, outcome, fault.reauth_reason)
    except (RegistryError, PyMongoError) as exc:  # the registry (tokens live there), not Spotify
        outcome = PullOutcome(
            user_id, "failed", message=one_line(f"the user registry failed: {exc}"), previous_last=previous
        )
        with contextlib.suppress(RegistryError, PyMongoError):
            registry.record_pull_problem(user_id, outcome.message)
    else:
        outcome = _store(conn, user_id, plays, previous)
        with contextlib.suppress(RegistryError, PyMongoError):  # stored and logged: bookkeeping only
            registry.record_pull(user_id, datetime.now(UTC))
        outcome.seconds = time.monotonic() - started
        return outcome
    _log(conn, outcome, previous, None)
    conn.commit()
    outcome.seconds = time.monotonic() - started
    return outcome


def _store(
    conn: Any, user_id: str, plays: list[tuple[datetime, dict[str, Any]]], previous: datetime | None
) -> PullOutcome:
    outcome = PullOutcome(user_id, "ok", items=len(plays), previous_last=previous)
    if plays:
        outcome.oldest, outcome.newest = min(at for at, _ in plays), max(at for at, _ in plays)
        if len(plays) >= PAGE_LIMIT and previous is not None and outcome.oldest > previous:
            outcome.gap_seconds = (outcome.oldest - previous).total_seconds()
            outcome.message = (
                f"{PAGE_LIMIT} items and the oldest is newer than the last stored play: "
                f"up to {outcome.gap_seconds / 60:.0f} minutes of plays were lost between polls"
            )
    with conn.cursor() as cur:
        load_id = bronze_write(conn)
        pull_id = str(uuid.uuid4())
        if plays:
            execute_values(
                cur,
                "insert into bronze.spotify_recently_played "
                "(user_id, played_at, track_id, pull_id, item, load_id) "
                "values %s on conflict (user_id, played_at) do nothing",
                [
                    (user_id, at, (item.get("track") or {}).get("id"), pull_id, json.dumps(item), load_id)
                    for at, item in plays
                ],
            )
            outcome.inserted = cur.rowcount
        _log(conn, outcome, previous, load_id, pull_id)
    conn.commit()
    return outcome


def _log(
    conn: Any,
    outcome: PullOutcome,
    previous: datetime | None,
    load_id: int | None,
    pull_id: str | None = None,
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "insert into bronze.spotify_pulls (pull_id, user_id, load_id, status, items, inserted, "
            "oldest_played_at, newest_played_at, previous_last_played_at, gap_seconds, retry_after_s, "
            "message) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                pull_id or str(uuid.uuid4()),
                outcome.user_id,
                load_id,
                outcome.status,
                outcome.items,
                outcome.inserted,
                outcome.oldest,
                outcome.newest,
                previous,
                outcome.gap_seconds,
                outcome.retry_after_s,
                one_line(outcome.message, 1000),
            ),
        )


def pull_users(
    settings: Settings,
    user_ids: list[str],
    *,
    registry: Registry,
    connect_warehouse: Callable[[], Any],
    concurrency: int | None = None,
    on_outcome: Callable[[PullOutcome], None] | None = None,
) -> list[PullOutcome]:
    """Pull many users at once (bounded concurrency); each worker has its own warehouse connection
    (from connect_warehouse: the caller's resource) and HTTP session; the registry is shared.

    With every request bounded by settings.spotify_timeout_s, a stalled user holds one worker for
    about one timeout while the others go on; the run ends when the slowest user is done."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tracktracker_assets.spotify.client import http_session

    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def work(user_id: str) -> PullOutcome:
        if getattr(local, "conn", None) is None or local.conn.closed:  # a lost connection is replaced
            local.conn = connect_warehouse()
            with lock:
                opened.append(local.conn)
        if getattr(local, "http", None) is None:
            local.http = http_session(4)
            with lock:
                opened.append(local.http)
        started = time.monotonic()
        try:
            outcome = pull_user(settings, local.conn, registry, user_id, local.http)
        except Exception as exc:  # a bug, the warehouse or the registry: this user only
            outcome = PullOutcome(
                user_id, "failed", message=one_line(f"the pull failed: {type(exc).__name__}: {exc}")
            )
            outcome.seconds = time.monotonic() - started
            _record_unexpected(local.conn, registry, outcome)
        if on_outcome:
            on_outcome(outcome)
        return outcome

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency or settings.pull_concurrency)) as pool:
            return list(pool.map(work, user_ids))
    finally:
        for resource in opened:
            resource.close()


def _record_unexpected(conn: Any, registry: Registry, outcome: PullOutcome) -> None:
    """Best effort: the warehouse or the registry may be what failed."""
    with contextlib.suppress(Exception):
        conn.rollback()
        _log(conn, outcome, None, None)
        conn.commit()
    with contextlib.suppress(Exception):
        registry.record_pull_problem(outcome.user_id, outcome.message)
