"""Catalog enrichment: fetch the tracks, albums and artists seen in the warehouse but not yet known.

Development-mode apps (2026) may ask for one id per request, so this is many small requests: a run
spends at most a budget of them, several at a time, and commits what arrived every few dozen, so an
interrupted or over-budget run resumes where it stopped. A 429 is waited out only up to
settings.spotify_max_wait_s; a longer Retry-After ends the run and leaves the rest for the next one.
Recently-played items already carry full track objects: those become catalog rows without a request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from psycopg2.extras import execute_values
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.client import app_api, http_session, user_api
from tracktracker_assets.users.registry import Registry
from tracktracker_assets.warehouse.locks import bronze_write

KINDS = ("album", "artist", "track")  # albums and artists first: they come from tracks already known
COMMIT_EVERY = 50

PENDING_SQL = {
    "track": """
        select distinct split_part(spotify_track_uri, ':', 3)
        from gold.dim_track
        where spotify_track_uri like 'spotify:track:%%'
          and not exists (select 1 from bronze.spotify_catalog c
                          where c.kind = 'track' and c.id = split_part(spotify_track_uri, ':', 3))
        limit %s
    """,
    "album": """
        select distinct payload -> 'album' ->> 'id'
        from bronze.spotify_catalog t
        where t.kind = 'track' and t.status = 'ok' and payload -> 'album' ->> 'id' is not null
          and not exists (select 1 from bronze.spotify_catalog c
                          where c.kind = 'album' and c.id = t.payload -> 'album' ->> 'id')
        limit %s
    """,
    "artist": """
        select distinct a ->> 'id'
        from bronze.spotify_catalog t, jsonb_array_elements(t.payload -> 'artists') as a
        where t.kind = 'track' and t.status = 'ok' and a ->> 'id' is not null
          and not exists (select 1 from bronze.spotify_catalog c
                          where c.kind = 'artist' and c.id = a ->> 'id')
        limit %s
    """,
}


@dataclass
class EnrichOutcome:
    requests: int = 0
    fetched: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    not_found: int = 0
    from_recently_played: int = 0
    errors: int = 0
    deferred_retry_after_s: int | None = None
    seconds: float = 0.0
    message: str = ""

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def seed_from_recently_played(conn: Any) -> int:
    """Track objects that came with recently-played items are catalog rows already: no request."""
    with conn.cursor() as cur:
        load_id = bronze_write(conn)
        cur.execute(
            """
            insert into bronze.spotify_catalog (kind, id, status, payload, load_id)
            select distinct on (item -> 'track' ->> 'id') 'track', item -> 'track' ->> 'id', 'ok',
                   item -> 'track', %s
            from bronze.spotify_recently_played r
            where item -> 'track' ->> 'id' is not null
              and not exists (select 1 from bronze.spotify_catalog c
                              where c.kind = 'track' and c.id = r.item -> 'track' ->> 'id')
            order by item -> 'track' ->> 'id', played_at desc
            on conflict do nothing
            """,
            (load_id,),
        )
        seeded = cur.rowcount
    conn.commit()
    return seeded


def pending_ids(conn: Any, kind: str, limit: int) -> list[str]:
    from tracktracker_assets.warehouse.db import table_exists

    if kind == "track" and not table_exists(conn, "gold.dim_track"):
        return []
    with conn.cursor() as cur:
        cur.execute(PENDING_SQL[kind], (limit,))
        ids = [row[0] for row in cur.fetchall()]
    conn.rollback()
    return ids


class _Writer:
    """Collects fetched payloads and commits them in small batches (resumable progress)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._rows: list[tuple[str, str, str, str | None]] = []
        self._lock = threading.Lock()

    def add(self, kind: str, item_id: str, status: str, payload: dict[str, Any] | None) -> None:
        with self._lock:
            self._rows.append((kind, item_id, status, json.dumps(payload) if payload is not None else None))
            if len(self._rows) >= COMMIT_EVERY:
                self._flush()

    def close(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        with self._conn.cursor() as cur:
            load_id = bronze_write(self._conn)
            execute_values(
                cur,
                "insert into bronze.spotify_catalog (kind, id, status, payload, load_id) values %s "
                "on conflict (kind, id) do nothing",
                [(*row, load_id) for row in rows],
            )
        self._conn.commit()


def _catalog_api(settings: Settings, registry: Registry, http: requests.Session) -> Any:
    """Client credentials when the app has a secret; otherwise any connected listener's token."""
    api = app_api(settings, http)
    if api is not None:
        return api
    for user in registry.connected_users():
        if user.status == "active":
            return user_api(settings, registry, user.user_id, http)
    return None


def enrich(
    settings: Settings,
    conn: Any,
    registry: Registry,
    *,
    budget: int | None = None,
    concurrency: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> EnrichOutcome:
    started = time.monotonic()
    outcome = EnrichOutcome()
    outcome.from_recently_played = seed_from_recently_played(conn)
    budget = settings.enrich_budget if budget is None else budget
    with http_session(concurrency * 2) as http:
        api = _catalog_api(settings, registry, http)
        if api is None:
            outcome.message = "no client secret and no connected listener: nothing to fetch the catalog with"
            outcome.seconds = time.monotonic() - started
            return outcome
        writer = _Writer(conn)
        stop = threading.Event()
        lock = threading.Lock()

        def fetch(kind: str, item_id: str) -> None:
            if stop.is_set():
                return
            waited = False
            while True:
                with lock:
                    outcome.requests += 1
                try:
                    payload = getattr(api, kind)(item_id)
                except SpotifyException as exc:
                    if exc.http_status == 429:
                        retry_after = int((exc.headers or {}).get("Retry-After", "1"))
                        if waited or retry_after > settings.spotify_max_wait_s or outcome.requests >= budget:
                            outcome.deferred_retry_after_s = retry_after
                            stop.set()
                            return
                        sleep(retry_after)
                        waited = True
                        continue
                    if exc.http_status in (400, 404):  # unknown or malformed id: remember, never ask again
                        writer.add(kind, item_id, "not_found", None)
                        with lock:
                            outcome.not_found += 1
                        return
                    with lock:
                        outcome.errors += 1
                    return
                except (SpotifyOauthError, requests.RequestException):
                    with lock:
                        outcome.errors += 1
                    return
                writer.add(kind, item_id, "ok", payload)
                with lock:
                    outcome.fetched[kind] += 1
                return

        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                for kind in KINDS:
                    left = budget - outcome.requests
                    if left <= 0 or stop.is_set():
                        break
                    ids = pending_ids(conn, kind, left)
                    list(pool.map(lambda item_id, kind=kind: fetch(kind, item_id), ids))
                    writer.close()  # tracks fetched now name the albums and artists of the next pass
        finally:
            writer.close()
    outcome.seconds = time.monotonic() - started
    if outcome.deferred_retry_after_s:
        outcome.message = (
            f"rate limited: Spotify asks to wait {outcome.deferred_retry_after_s} s; the next run resumes"
        )
    elif outcome.requests >= budget:
        outcome.message = f"request budget of {budget} spent; the next run resumes"
    return outcome
