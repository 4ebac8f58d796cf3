"""spotipy clients pointed at the configured Spotify (the real one, or the local fake in tests).

- urllib3 retries 5xx a few times, but never a 429: its Retry-After handling would sleep the whole
  wait (Spotify sends hours) inside one request; callers see the 429 and decide (pull.py, enrich.py).
- Every request is bounded by settings.spotify_timeout_s to connect and again to answer, and a request
  that timed out is never re-sent: a stalled server would only make each retry cost another timeout.
- Tokens live in the MongoDB registry through RegistryTokenCache, so a rotated refresh token is
  saved the moment spotipy receives it.
- spotipy logs token requests (bodies included) at DEBUG, and every HTTP error with Spotify's raw,
  often multi-line body at ERROR: its logger is held at CRITICAL, callers report each fault in one
  line (faults.py) where it belongs (pull log, registry, run metadata).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth, SpotifyPKCE
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from tracktracker_assets.settings import Settings
from tracktracker_assets.users.registry import Registry

SCOPE = "user-read-recently-played"

logging.getLogger("spotipy").setLevel(logging.CRITICAL)


class SpotifyNotConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "The Spotify Web API is not configured: set TRACKTRACKER_SPOTIFY_CLIENT_ID (and, for a "
            "confidential app, TRACKTRACKER_SPOTIFY_CLIENT_SECRET); see the README, 'Connecting Spotify'."
        )


class BoundedRetry(Retry):
    """urllib3's Retry, except that a read timeout, and any broken answer to a POST, is final.

    A server too slow to answer once is slow for the retry too (each retry would add a whole timeout);
    a token refresh whose answer was lost may have rotated the refresh token, and re-sending the old
    one would then be refused as if the listener had revoked consent.
    """

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> BoundedRetry:
        if isinstance(error, ReadTimeoutError) or (
            error is not None and method == "POST" and self._is_read_error(error)
        ):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def timeouts(settings: Settings) -> tuple[float, float]:
    """(connect, read) seconds for every Spotify request."""
    return (float(settings.spotify_timeout_s), float(settings.spotify_timeout_s))


def http_session(pool: int = 32) -> requests.Session:
    # at most three attempts a request: two more on a 5xx or a dropped connection, one more connect
    retry = BoundedRetry(
        total=2,
        connect=1,
        read=1,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=0.2,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class RegistryTokenCache(CacheHandler):
    """spotipy's token cache backed by the registry (encrypted there). consent: the cache of a sign-in,
    which stores a new token; otherwise a refreshed token only replaces a stored one (a listener who
    disconnected during a pull stays disconnected)."""

    def __init__(self, registry: Registry, user_id: str, *, consent: bool = False) -> None:
        self._registry = registry
        self._user_id = user_id
        self._consent = consent

    def get_cached_token(self) -> dict[str, Any] | None:
        return self._registry.load_token(self._user_id)

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        self._registry.save_token(self._user_id, token_info, create=self._consent)


def require_configured(settings: Settings) -> str:
    if not settings.spotify_client_id:
        raise SpotifyNotConfigured()
    return settings.spotify_client_id


def _point(auth: Any, settings: Settings) -> Any:
    # spotipy reads these from the instance: pointing one instance elsewhere touches no global state
    auth.OAUTH_TOKEN_URL = f"{settings.spotify_accounts_url}/api/token"
    if hasattr(auth, "OAUTH_AUTHORIZE_URL"):
        auth.OAUTH_AUTHORIZE_URL = f"{settings.spotify_accounts_url}/authorize"
    return auth


def user_auth_manager(
    settings: Settings, cache: CacheHandler, http: requests.Session, redirect_uri: str | None = None
) -> SpotifyOAuth | SpotifyPKCE:
    """Authorization-code flow: with the app's secret when configured, else PKCE (no secret)."""
    client_id = require_configured(settings)
    redirect = redirect_uri or settings.spotify_redirect_uri
    if settings.spotify_client_secret:
        auth: SpotifyOAuth | SpotifyPKCE = SpotifyOAuth(
            client_id=client_id,
            client_secret=settings.spotify_client_secret,
            redirect_uri=redirect,
            scope=SCOPE,
            cache_handler=cache,
            requests_session=http,
            requests_timeout=timeouts(settings),
            open_browser=False,
        )
    else:
        auth = SpotifyPKCE(
            client_id=client_id,
            redirect_uri=redirect,
            scope=SCOPE,
            cache_handler=cache,
            requests_session=http,
            requests_timeout=timeouts(settings),
            open_browser=False,
        )
    return _point(auth, settings)


def api(settings: Settings, auth_manager: Any, http: requests.Session) -> spotipy.Spotify:
    client = spotipy.Spotify(
        auth_manager=auth_manager, requests_session=http, requests_timeout=timeouts(settings), retries=0
    )
    client.prefix = settings.spotify_api_url  # spotipy has no constructor argument for the base URL
    return client


def user_api(settings: Settings, registry: Registry, user_id: str, http: requests.Session) -> spotipy.Spotify:
    return api(settings, user_auth_manager(settings, RegistryTokenCache(registry, user_id), http), http)


def app_api(settings: Settings, http: requests.Session) -> spotipy.Spotify | None:
    """Client-credentials access for catalog lookups; None without a client secret."""
    if not settings.spotify_client_id or not settings.spotify_client_secret:
        return None
    auth = SpotifyClientCredentials(
        client_id=settings.spotify_client_id,
        client_secret=settings.spotify_client_secret,
        # spotipy's default is a `.cache` file in the working directory: tokens on disk, and stale ones
        cache_handler=MemoryCacheHandler(),
        requests_session=http,
        requests_timeout=timeouts(settings),
    )
    return api(settings, _point(auth, settings), http)
