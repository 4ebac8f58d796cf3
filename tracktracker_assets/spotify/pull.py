"""Pull a listener's recently-played items into bronze.

The `after` cursor is the newest played_at already stored, so a pull asks only for what is new and
re-running a pull is harmless (items are keyed by user + played_at). Spotify keeps only the newest 50:
a pull that returns 50 items whose oldest is newer than the last stored play means plays were lost
in between; the pull log records the size of that gap for the asset check.

Faults stay with their user: a 429 waits at most settings.spotify_max_wait_s and otherwise defers to
the next tick; a revoked or expired consent marks the user needs_reauth; repeated 5xx fail only them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from psycopg2.extras import execute_values
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from tracktracker_assets.ingest.loader import BRONZE_WRITE_LOCK
from tracktracker_assets.registry import Registry, RegistryError
from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.client import user_api

PAGE_LIMIT = 50


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

    @property
    def lost_plays(self) -> bool:
        return bool(self.gap_seconds and self.gap_seconds > 0)


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


class _Deferred(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _fetch(api: Any, after_ms: int | None, max_wait_s: int, sleep: Callable[[float], None]) -> dict[str, Any]:
    """One recently-played page; honours a short Retry-After once, and refreshes a rejected token once."""
    refreshed = waited = False
    while True:
        try:
            return api.current_user_recently_played(limit=PAGE_LIMIT, after=after_ms)
        except SpotifyException as exc:
            if exc.http_status == 429:
                retry_after = int((exc.headers or {}).get("Retry-After", "1"))
                if waited or retry_after > max_wait_s:
                    raise _Deferred(retry_after) from None
                sleep(retry_after)
                waited = True
                continue
            if exc.http_status == 401 and not refreshed:
                # the server expired the token before its expires_at: refresh once, then retry
                manager = api.auth_manager
                token = manager.cache_handler.get_cached_token() or {}
                manager.refresh_access_token(token.get("refresh_token"))
                refreshed = True
                continue
            raise


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
        page = _fetch(
            user_api(settings, registry, user_id, http), after_ms, settings.spotify_max_wait_s, sleep
        )
    except _Deferred as deferred:
        outcome = PullOutcome(
            user_id,
            "deferred",
            retry_after_s=deferred.retry_after,
            message=f"rate limited: Spotify asks to wait {deferred.retry_after} s; the next tick retries",
        )
    except SpotifyOauthError as exc:
        reason = f"{exc.error}: {exc.error_description}" if exc.error else str(exc)
        registry.set_status(user_id, "needs_reauth", reason)
        outcome = PullOutcome(
            user_id,
            "needs_reauth",
            message=f"Spotify refused the stored consent ({reason}); "
            f"reconnect with `tracktracker users connect {user_id}`",
        )
    except SpotifyException as exc:
        if exc.http_status in (401, 403):
            registry.set_status(user_id, "needs_reauth", f"{exc.http_status}: {exc.msg}")
            outcome = PullOutcome(
                user_id,
                "needs_reauth",
                message=f"Spotify answered {exc.http_status} ({exc.msg}); reconnect with `users connect`",
            )
        else:
            outcome = PullOutcome(user_id, "failed", message=f"Spotify answered {exc.http_status}: {exc.msg}")
    except (requests.RequestException, RegistryError) as exc:
        outcome = PullOutcome(user_id, "failed", message=f"{type(exc).__name__}: {exc}")
    else:
        outcome = _store(conn, user_id, page.get("items") or [], previous)
        registry.record_pull(user_id, datetime.now(UTC))
        return outcome
    _log(conn, outcome, previous, None)
    conn.commit()
    return outcome


def _store(conn: Any, user_id: str, items: list[dict[str, Any]], previous: datetime | None) -> PullOutcome:
    played = [_parse_time(item["played_at"]) for item in items]
    outcome = PullOutcome(user_id, "ok", items=len(items), previous_last=previous)
    if played:
        outcome.oldest, outcome.newest = min(played), max(played)
        if len(items) >= PAGE_LIMIT and previous is not None and outcome.oldest > previous:
            outcome.gap_seconds = (outcome.oldest - previous).total_seconds()
            outcome.message = (
                f"{PAGE_LIMIT} items and the oldest is newer than the last stored play: "
                f"up to {outcome.gap_seconds / 60:.0f} minutes of plays were lost between polls"
            )
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (BRONZE_WRITE_LOCK,))
        cur.execute("select nextval('bronze.load_id_seq')")
        load_id = cur.fetchone()[0]
        pull_id = str(uuid.uuid4())
        if items:
            execute_values(
                cur,
                "insert into bronze.spotify_recently_played "
                "(user_id, played_at, track_id, pull_id, item, load_id) "
                "values %s on conflict (user_id, played_at) do nothing",
                [
                    (user_id, at, (item.get("track") or {}).get("id"), pull_id, json.dumps(item), load_id)
                    for at, item in zip(played, items, strict=True)
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
                outcome.message[:1000],
            ),
        )


def pull_users(
    settings: Settings,
    user_ids: list[str],
    *,
    concurrency: int | None = None,
    on_outcome: Callable[[PullOutcome], None] | None = None,
) -> list[PullOutcome]:
    """Pull many users at once (bounded concurrency); each worker has its own connection and session."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tracktracker_assets.spotify.client import http_session
    from tracktracker_assets.warehouse.db import connect

    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()
    registry = Registry(settings.mongo_url, settings.mongo_db, settings.secret_key)

    def work(user_id: str) -> PullOutcome:
        if not hasattr(local, "conn"):
            local.conn, local.http = (
                connect(settings.database_url, application="tracktracker-pull"),
                http_session(4),
            )
            with lock:
                opened.append(local.conn)
                opened.append(local.http)
        try:
            outcome = pull_user(settings, local.conn, registry, user_id, local.http)
        except Exception as exc:  # a bug for one user must not sink the others
            local.conn.rollback()
            outcome = PullOutcome(user_id, "failed", message=f"{type(exc).__name__}: {exc}")
        if on_outcome:
            on_outcome(outcome)
        return outcome

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency or settings.pull_concurrency)) as pool:
            return list(pool.map(work, user_ids))
    finally:
        for resource in opened:
            resource.close()
        registry.close()
