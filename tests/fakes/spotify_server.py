"""A fake Spotify Web API and accounts service on 127.0.0.1, for tests and benchmarks.

It answers like the real services do for a 2026 development-mode app, so the real ``spotipy`` client can be
pointed at it (``Spotify.prefix = fake.api_base``; the auth managers' ``OAUTH_TOKEN_URL`` and
``OAUTH_AUTHORIZE_URL`` set per instance to ``fake.token_url`` / ``fake.authorize_url``).

Served: ``GET /v1/me``, ``GET /v1/me/player/recently-played``, ``GET /v1/{tracks,albums,artists}/{id}``
(batch lookups answer 403 as for development-mode apps since February 2026), ``POST /api/token``
(authorization_code with secret or PKCE, refresh_token, client_credentials) and ``GET /authorize``.
Tests script it in Python: users, plays, token revocation and rotation, faults, latency, a rate limit,
a fake clock and a log of every request. Faults target one path (and optionally one user) and can be
any status with Spotify's error shape or any raw body (an HTML error page, text, truncated JSON), a
slow answer, an answer cut off mid-body, or a connection closed without an answer.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import fnmatch
import hashlib
import http
import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.spotify_catalog import (
    API_HREF_BASE,
    OPEN_BASE,
    SPOTIFY_ID_RE,
    Catalog,
    JsonObject,
    Play,
    derive_id,
    format_played_at,
    to_ms,
)

DEFAULT_CLIENT_ID = "fake0client0id0000000000000000ab"
DEFAULT_CLIENT_SECRET = "fake0client0secret00000000000000"
DEFAULT_SCOPE = "user-read-recently-played user-read-private user-read-email"
REFRESH_TOKEN_LIFETIME = 182 * 86_400  # Spotify: refresh tokens die six months after consent
AUTH_CODE_LIFETIME = 600
RECENTLY_PLAYED_VISIBLE = 50  # the real endpoint never reaches further back than the last 50 plays

KNOWN_SCOPES = frozenset(
    {
        "app-remote-control",
        "playlist-read-private",
        "playlist-read-collaborative",
        "playlist-modify-public",
        "playlist-modify-private",
        "user-library-read",
        "user-library-modify",
        "user-read-private",
        "user-read-email",
        "user-follow-read",
        "user-follow-modify",
        "user-top-read",
        "user-read-playback-position",
        "user-read-playback-state",
        "user-read-recently-played",
        "user-read-currently-playing",
        "user-modify-playback-state",
        "ugc-image-upload",
        "streaming",
    }
)

_FAULT_MESSAGES = {
    401: "The access token expired",
    429: "API rate limit exceeded",
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
}
_NOT_REGISTERED = "Check settings on developer.spotify.com/dashboard, the user may not be registered."


# ----- public records ---------------------------------------------------------------------------------
@dataclass
class FakeUser:
    """A Spotify account known to the fake. Mutate only through :class:`FakeSpotify` methods."""

    id: str
    display_name: str | None
    country: str
    product: str
    email: str
    rotate_refresh_tokens: bool = False
    registered: bool = True  # on the development-mode app's user allow-list
    _ms: list[int] = field(default_factory=list, init=False, repr=False)  # sorted, parallel to _plays
    _plays: list[Play] = field(default_factory=list, init=False, repr=False)

    @property
    def plays(self) -> list[Play]:
        """All scripted plays, newest first."""
        return self._plays[::-1]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    user: str | None  # Spotify user id the request acted for, when known
    client_id: str | None
    status: int
    at: float  # fake clock, unix seconds


@dataclass
class Fault:
    """A queued canned answer for requests whose path matches ``path`` (fnmatch) and, if set, ``user``.

    ``status`` None means the usual answer, changed only by ``delay``, ``cut_off`` or ``drop``."""

    path: str
    status: int | None
    user: str | None = None
    method: str | None = None
    retry_after: int | None = None
    message: str | None = None
    body: JsonObject | list[Any] | None = None
    raw: bytes | None = None
    content_type: str | None = None
    delay: float = 0.0
    cut_off: bool = False
    drop: bool = False
    remaining: int = 1


# ----- internal records -------------------------------------------------------------------------------
@dataclass
class _App:
    client_id: str
    client_secret: str
    redirect_uris: frozenset[str] | None  # None: any redirect URI is accepted


@dataclass
class _AccessToken:
    client_id: str
    user_id: str | None  # None for client-credentials tokens
    scope: frozenset[str]
    expires_at: float
    revoked: bool = False


@dataclass
class _Grant:
    """What a refresh token stands for; survives rotation with its original consent time."""

    client_id: str
    user_id: str
    scope: str
    pkce: bool
    consented_at: float
    revoked: bool = False


@dataclass
class _AuthCode:
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class _Request:
    method: str
    path: str
    query_pairs: list[tuple[str, str]]
    raw_query: str
    headers: Mapping[str, str]
    form: dict[str, str]

    @property
    def query(self) -> dict[str, str]:
        return dict(self.query_pairs)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    client_id: str | None = None
    cut_off: bool = False  # send the headers of the whole body, then half of it, then hang up
    drop: bool = False  # hang up without answering


def _json(status: int, obj: Any, **headers: str) -> _Response:
    return _Response(status, json.dumps(obj, ensure_ascii=False).encode(), headers=headers)


def _api_error(status: int, message: str, **headers: str) -> _Response:
    """The Web API's error shape: ``{"error": {"status": ..., "message": ...}}``."""
    return _json(status, {"error": {"status": status, "message": message}}, **headers)


def _oauth_error(error: str, description: str, status: int = 400) -> _Response:
    """The accounts service's error shape (RFC 6749)."""
    return _json(status, {"error": error, "error_description": description})


def _html(status: int, text: str) -> _Response:
    page = f"<!DOCTYPE html><html><head><title>Spotify</title></head><body><p>{text}</p></body></html>"
    return _Response(status, page.encode(), content_type="text/html; charset=utf-8")


def _redirect(base: str, params: dict[str, str]) -> _Response:
    location = base + ("&" if "?" in base else "?") + urlencode(params)
    return _Response(302, headers={"Location": location}, content_type="text/plain")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


# ----- the fake ---------------------------------------------------------------------------------------
class FakeSpotify:
    """Fake Spotify Web API + accounts service. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: Iterable[str] | None = None,
        access_token_ttl: int = 3600,
        refresh_token_ttl: float = REFRESH_TOKEN_LIFETIME,
        visible_plays: int | None = RECENTLY_PLAYED_VISIBLE,
        latency: float = 0.0,
        rate_limit_rps: float | None = None,
        rate_limit_retry_after: int = 1,
        legacy_profile_fields: bool = False,
        catalog: Catalog | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """Options (all but the catalog can be changed later through the attributes of the same name):

        - ``client_id``/``client_secret``/``redirect_uris``: the registered app (None: any redirect URI);
        - ``access_token_ttl``: ``expires_in`` of access tokens, seconds; ``refresh_token_ttl``: lifetime
          of a consent (Spotify: six months). Prefer ``advance_clock()`` to small TTLs: spotipy refreshes
          any token with less than 60 s left before every call;
        - ``visible_plays``: how many of a user's newest plays recently-played can reach at all (the real
          endpoint: 50); None lifts the horizon;
        - ``latency``: seconds slept per request (concurrent requests overlap);
        - ``rate_limit_rps``/``rate_limit_retry_after``: a global Web API budget per rolling second, 429 with
          ``Retry-After`` beyond it;
        - ``legacy_profile_fields``: add country/product/email/explicit_content/followers to /me (scope
          permitting), which development-mode apps no longer receive since February 2026.
        """
        self.catalog = catalog or Catalog()
        self.client_id, self.client_secret = client_id, client_secret
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.visible_plays = visible_plays
        self.latency = latency
        self.rate_limit_rps = rate_limit_rps
        self.rate_limit_retry_after = rate_limit_retry_after
        self.legacy_profile_fields = legacy_profile_fields
        self.internal_errors: list[str] = []
        self._host = host
        self._lock = threading.RLock()
        self._clock_offset = 0.0
        self._apps: dict[str, _App] = {}
        self._users: dict[str, FakeUser] = {}
        self._access: dict[str, _AccessToken] = {}
        self._grants: dict[str, _Grant] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._logins: deque[tuple[str | None, bool]] = deque()
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._recent: deque[float] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.add_app(client_id, client_secret, redirect_uris)

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("fake Spotify already started")
        self._server = _Server((self._host, 0), _Handler, self)
        # A short poll interval makes shutdown() (and so stop()) return within ~50 ms.
        serve = {"poll_interval": 0.05}
        # Daemon: a test that forgets stop() must not hang the interpreter at exit.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs=serve, name="fake-spotify", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()  # idle keep-alive connections would otherwise block server_close
        server.server_close()  # joins the per-connection threads
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake Spotify is not started")
        return f"http://{self._host}:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        """For ``spotipy.Spotify.prefix`` (trailing slash included, like spotipy's default)."""
        return f"{self.base_url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    # ----- clock ----------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock (token and code expiry) forward without sleeping."""
        with self._lock:
            self._clock_offset += seconds

    # ----- apps and users -------------------------------------------------------------------------
    def add_app(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None) -> None:
        uris = frozenset(redirect_uris) if redirect_uris is not None else None
        with self._lock:
            self._apps[client_id] = _App(client_id, client_secret, uris)

    def add_user(
        self,
        spotify_user_id: str,
        *,
        display_name: str | None = None,
        country: str = "US",
        product: str = "premium",
        email: str | None = None,
        rotate_refresh_tokens: bool = False,
        registered: bool = True,
    ) -> FakeUser:
        user = FakeUser(
            id=spotify_user_id,
            display_name=display_name if display_name is not None else spotify_user_id,
            country=country,
            product=product,
            email=email or f"{spotify_user_id}@example.com",
            rotate_refresh_tokens=rotate_refresh_tokens,
            registered=registered,
        )
        with self._lock:
            if spotify_user_id in self._users:
                raise ValueError(f"user {spotify_user_id!r} already exists")
            self._users[spotify_user_id] = user
        return user

    def user(self, spotify_user_id: str) -> FakeUser:
        return self._users[spotify_user_id]

    def set_rotation(self, user: FakeUser | str, rotate: bool) -> None:
        """Whether refreshing returns a new refresh token (and invalidates the old one)."""
        with self._lock:
            self._user(user).rotate_refresh_tokens = rotate

    def set_registered(self, user: FakeUser | str, registered: bool) -> None:
        """Development-mode allow-list: unregistered users get 403 from the Web API."""
        with self._lock:
            self._user(user).registered = registered

    def _user(self, user: FakeUser | str) -> FakeUser:
        return self._users[user if isinstance(user, str) else user.id]

    # ----- tokens ---------------------------------------------------------------------------------
    def issue_refresh_token(
        self,
        user: FakeUser | str,
        *,
        scope: str = DEFAULT_SCOPE,
        client_id: str | None = None,
        pkce: bool = False,
    ) -> str:
        """A refresh token as if ``user`` had just consented (skips the /authorize flow)."""
        with self._lock:
            user_id = self._user(user).id
            grant = _Grant(client_id or self.client_id, user_id, _norm_scope(scope), pkce, self.now())
            return self._store_grant(grant)

    def issue_access_token(
        self,
        user: FakeUser | str | None = None,
        *,
        scope: str = DEFAULT_SCOPE,
        client_id: str | None = None,
        expires_in: float | None = None,
    ) -> str:
        """A bearer token for ``user`` (or a client-credentials token when ``user`` is None)."""
        with self._lock:
            user_id = self._user(user).id if user is not None else None
            app = client_id or self.client_id
            return self._new_access_token(app, user_id, scope if user_id else "", expires_in)

    def revoke_tokens(self, user: FakeUser | str, *, access_tokens: bool = True) -> None:
        """As if the user removed the app's access: refresh tokens (and access tokens) stop working."""
        with self._lock:
            user_id = self._user(user).id
            for grant in self._grants.values():
                grant.revoked = grant.revoked or grant.user_id == user_id
            if access_tokens:
                for token in self._access.values():
                    token.revoked = token.revoked or token.user_id == user_id

    def expire_access_tokens(self, user: FakeUser | str | None = None) -> None:
        """Expire the current access tokens of ``user`` (all tokens when None) right now."""
        with self._lock:
            user_id = self._user(user).id if user is not None else None
            for token in self._access.values():
                if user_id is None or token.user_id == user_id:
                    token.expires_at = min(token.expires_at, self.now())

    def _new_access_token(
        self, client_id: str, user_id: str | None, scope: str, expires_in: float | None = None
    ) -> str:
        value = "BQ" + secrets.token_urlsafe(108)
        ttl = self.access_token_ttl if expires_in is None else expires_in
        self._access[value] = _AccessToken(client_id, user_id, frozenset(scope.split()), self.now() + ttl)
        return value

    def _store_grant(self, grant: _Grant) -> str:
        value = "AQ" + secrets.token_urlsafe(96)
        self._grants[value] = grant
        return value

    # ----- consent screen -------------------------------------------------------------------------
    def approve_next_login(self, user: FakeUser | str) -> None:
        """The next /authorize request is approved by ``user``: 302 to redirect_uri?code=...&state=..."""
        with self._lock:
            self._logins.append((self._user(user).id, False))

    def deny_next_login(self) -> None:
        """The next /authorize request is refused: 302 to redirect_uri?error=access_denied&state=..."""
        with self._lock:
            self._logins.append((None, True))

    # ----- listening history ----------------------------------------------------------------------
    def add_plays(self, user: FakeUser | str, plays: Iterable[Play | tuple[Any, ...]]) -> list[Play]:
        """Script plays: ``Play`` or ``(track id or track object, aware datetime[, context])``."""
        parsed = [self._play(p) for p in plays]
        with self._lock:
            target = self._user(user)
            merged = sorted([*target._plays, *parsed], key=lambda p: p.played_at_ms)
            target._plays[:] = merged
            target._ms[:] = [p.played_at_ms for p in merged]
        return parsed

    def generate_plays(
        self,
        user: FakeUser | str,
        count: int,
        *,
        end: datetime | None = None,
        seed: str | None = None,
        gap_ms: int = 0,
    ) -> list[Play]:
        """``count`` realistic consecutive plays ending at ``end`` (default: now), newest first.

        Neighbours are the newer track's duration (+ ``gap_ms``) apart, as in real history.
        """
        user_id = self._user(user).id
        end = end or datetime.fromtimestamp(self.now(), tz=UTC)
        plays = self.catalog.realistic_plays(count, end, seed=seed or user_id, gap_ms=gap_ms)
        return self.add_plays(user_id, plays)

    def add_recorded_plays(self, user: FakeUser | str, recording: str) -> list[Play]:
        """The plays of a recorded response (see ``catalog.recording_names``), contexts included."""
        return self.add_plays(user, self.catalog.recorded_plays(recording))

    def _play(self, play: Play | tuple[Any, ...]) -> Play:
        if isinstance(play, Play):
            track_id, played_at, context = play.track_id, play.played_at, play.context
        else:
            track, played_at, *rest = play
            track_id = self.catalog.add_track(track) if isinstance(track, dict) else track
            context = rest[0] if rest else None
        if track_id not in self.catalog:
            raise KeyError(f"unknown track id {track_id!r}: pass a track object or a catalog id")
        to_ms(played_at)
        return Play(track_id, played_at, context)

    # ----- faults, latency, log -------------------------------------------------------------------
    def inject_fault(
        self,
        path: str,
        status: int | None,
        *,
        user: FakeUser | str | None = None,
        method: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
        body: JsonObject | list[Any] | None = None,
        raw: bytes | str | None = None,
        content_type: str | None = None,
        delay: float = 0.0,
        cut_off: bool = False,
        drop: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (429 always sends Retry-After).

        - ``message`` goes into Spotify's error shape (newlines and all); ``body`` replaces the whole
          JSON body; ``raw`` is sent as is (``content_type`` defaults to text/plain): an HTML error
          page, text, JSON cut short;
        - ``status`` None keeps the usual answer: combine it with the following;
        - ``delay``: seconds before answering (a slow server; other requests are not held up);
        - ``cut_off``: the answer's headers promise the whole body, half of it is sent, then the
          connection closes; ``drop``: the connection closes without any answer.
        """
        user_id = user if isinstance(user, str) or user is None else user.id
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            path,
            status,
            user=user_id,
            method=method,
            retry_after=retry_after,
            message=message,
            body=body,
            raw=raw.encode() if isinstance(raw, str) else raw,
            content_type=content_type,
            delay=delay,
            cut_off=cut_off,
            drop=drop,
            remaining=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, *, user: FakeUser | str | None = None) -> list[RecordedRequest]:
        """Logged requests whose path matches ``path`` (fnmatch), optionally for one user."""
        user_id = user if isinstance(user, str) or user is None else user.id
        return [r for r in self.requests if fnmatch.fnmatchcase(r.path, path) and user_id in (None, r.user)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # ----- request pipeline -----------------------------------------------------------------------
    def _handle(self, request: _Request) -> _Response:
        if self.latency:
            time.sleep(self.latency)  # outside the lock: concurrent requests overlap their latency
        with self._lock:
            fault = self._take_fault(request)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # outside the lock too: one slow user holds up nobody else
        with self._lock:
            try:
                if fault is not None and fault.status is not None:
                    response = self._fault_response(fault)
                else:
                    response = self._dispatch(request)
            except Exception:
                self.internal_errors.append(traceback.format_exc())
                response = _api_error(500, "Server error.")
            if fault is not None:
                response.cut_off, response.drop = fault.cut_off, fault.drop
            if response.user is None:
                response.user = self._request_user(request)
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    request.query,
                    request.form,
                    response.user,
                    response.client_id,
                    response.status,
                    self.now(),
                )
            )
        return response

    def _dispatch(self, request: _Request) -> _Response:
        if request.path.startswith("/v1/") and self._over_rate_limit():
            return _api_error(429, _FAULT_MESSAGES[429], **{"Retry-After": str(self.rate_limit_retry_after)})
        path_matched = False
        for method, pattern, handler_name in _ROUTES:
            match = pattern.match(request.path)
            if match:
                path_matched = True
                if method == request.method:
                    return getattr(self, handler_name)(request, *match.groups())
        if path_matched:
            return _api_error(405, "Method not allowed")
        return _api_error(404, "Service not found")

    def _take_fault(self, request: _Request) -> Fault | None:
        user_id = self._request_user(request)
        for fault in self._faults:
            if (
                fnmatch.fnmatchcase(request.path, fault.path)
                and fault.user in (None, user_id)
                and fault.method in (None, request.method)
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> _Response:
        assert fault.status is not None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.raw is not None:
            content_type = fault.content_type or "text/plain; charset=utf-8"
            return _Response(fault.status, fault.raw, content_type=content_type, headers=headers)
        if fault.body is not None:
            return _json(fault.status, fault.body, **headers)
        message = fault.message or _FAULT_MESSAGES.get(fault.status) or http.HTTPStatus(fault.status).phrase
        return _api_error(fault.status, message, **headers)

    def _over_rate_limit(self) -> bool:
        """A rolling one-second budget over all Web API requests."""
        if not self.rate_limit_rps:
            return False
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit_rps:
            return True
        self._recent.append(now)
        return False

    def _request_user(self, request: _Request) -> str | None:
        """Whom a request acts for, without judging whether its credentials are still valid."""
        token = self._access.get(_bearer(request) or "")
        if token is not None:
            return token.user_id
        grant = self._grants.get(request.form.get("refresh_token", ""))
        if grant is not None:
            return grant.user_id
        code = self._codes.get(request.form.get("code", ""))
        return code.user_id if code is not None else None

    # ----- Web API --------------------------------------------------------------------------------
    def _authenticate(
        self, request: _Request, *, user_only: bool = False, scope: str | None = None
    ) -> _AccessToken | _Response:
        """Bearer-token checks in the order Spotify applies them."""
        header = request.headers.get("Authorization")
        if not header:
            return _api_error(401, "No token provided")
        value = _bearer(request)
        if value is None:
            return _api_error(400, "Only valid bearer authentication supported")
        token = self._access.get(value)
        if token is None or token.revoked:
            return _api_error(401, "Invalid access token")
        if self.now() >= token.expires_at:
            return _api_error(401, "The access token expired")
        if token.user_id is not None and not self._users[token.user_id].registered:
            return _api_error(403, _NOT_REGISTERED)
        if (user_only and token.user_id is None) or (scope is not None and scope not in token.scope):
            return _api_error(403, "Insufficient client scope")
        return token

    def _me(self, request: _Request) -> _Response:
        token = self._authenticate(request, user_only=True)
        if isinstance(token, _Response):
            return token
        user = self._users[token.user_id or ""]
        profile: JsonObject = {
            "account_id": derive_id("account", user.id)[:10],
            "display_name": user.display_name,
            "external_urls": {"spotify": f"{OPEN_BASE}/user/{user.id}"},
            "href": f"{API_HREF_BASE}/users/{user.id}",
            "id": user.id,
            "images": [],
            "type": "user",
            "uri": f"spotify:user:{user.id}",
        }
        if self.legacy_profile_fields:  # removed for development-mode apps in February 2026
            profile.update(self._legacy_profile(user, token.scope))
        return _tag(_json(200, profile), token)

    @staticmethod
    def _legacy_profile(user: FakeUser, scope: frozenset[str]) -> JsonObject:
        fields: JsonObject = {"followers": {"href": None, "total": 0}}
        if "user-read-private" in scope:
            fields |= {
                "country": user.country,
                "product": user.product,
                "explicit_content": {"filter_enabled": False, "filter_locked": False},
            }
        if "user-read-email" in scope:
            fields["email"] = user.email
        return fields

    def _recently_played(self, request: _Request) -> _Response:
        token = self._authenticate(request, user_only=True, scope="user-read-recently-played")
        if isinstance(token, _Response):
            return token
        params = _cursor_params(request.query)
        if isinstance(params, _Response):
            return params
        limit, after, before = params
        user = self._users[token.user_id or ""]
        items = self._history_page(user, limit, after, before)
        body = {
            "items": [self._history_item(p) for p in items],
            "next": self._next_url(request, items, after is not None),
            "cursors": {"after": str(items[0].played_at_ms), "before": str(items[-1].played_at_ms)}
            if items
            else None,
            "limit": limit,
            "href": self._href(request),
        }
        return _tag(_json(200, body), token)

    def _history_page(self, user: FakeUser, limit: int, after: int | None, before: int | None) -> list[Play]:
        """Newest first; only the last ``visible_plays`` plays exist for the endpoint at all."""
        horizon = self.visible_plays
        first_visible = max(0, len(user._ms) - horizon) if horizon is not None else 0
        low, high = first_visible, len(user._ms)
        if after is not None:
            low = max(low, bisect.bisect_right(user._ms, after))
        if before is not None:
            high = min(high, bisect.bisect_left(user._ms, before))
        return user._plays[max(low, high - limit) : high][::-1]

    def _history_item(self, play: Play) -> JsonObject:
        return {
            "track": self.catalog.track_ref(play.track_id),
            "played_at": format_played_at(play.played_at_ms),
            "context": play.context,
        }

    def _next_url(self, request: _Request, items: list[Play], forward: bool) -> str | None:
        """Like Spotify: present whenever the page has items, with the cursor in the paging direction."""
        if not items:
            return None
        cursor = ("after", str(items[0].played_at_ms)) if forward else ("before", str(items[-1].played_at_ms))
        rest = [(k, v) for k, v in request.query_pairs if k not in ("after", "before")]
        return f"{self.api_base}me/player/recently-played?{urlencode([cursor, *rest])}"

    def _href(self, request: _Request) -> str:
        path = request.path.removeprefix("/v1/")
        return f"{self.api_base}{path}" + (f"?{request.raw_query}" if request.raw_query else "")

    def _catalog_item(self, request: _Request, kind: str, item_id: str) -> _Response:
        token = self._authenticate(request)
        if isinstance(token, _Response):
            return token
        if not SPOTIFY_ID_RE.match(item_id):
            return _tag(_api_error(400, "invalid id"), token)
        lookup = {"tracks": self.catalog.track, "albums": self.catalog.album, "artists": self.catalog.artist}
        found = lookup[kind](item_id)
        if found is None:
            return _tag(_api_error(404, "Resource not found"), token)
        return _tag(_json(200, found), token)

    def _batch(self, request: _Request, kind: str) -> _Response:
        """Several-ids lookups were removed for development-mode apps (February 2026): 403."""
        token = self._authenticate(request)
        if isinstance(token, _Response):
            return token
        return _tag(_api_error(403, "Forbidden"), token)

    # ----- accounts service -----------------------------------------------------------------------
    def _authorize(self, request: _Request) -> _Response:
        query = request.query
        app = self._apps.get(query.get("client_id", ""))
        if app is None:
            return _html(400, "INVALID_CLIENT: Invalid client")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri or (app.redirect_uris is not None and redirect_uri not in app.redirect_uris):
            return _html(400, "INVALID_CLIENT: Invalid redirect URI")
        state = {"state": query["state"]} if "state" in query else {}
        error = _authorize_error(query)
        if error:
            return _redirect(redirect_uri, {"error": error, **state})
        if not self._logins:
            return _html(200, "Log in to Spotify (the fake waits for approve_next_login())")
        user_id, deny = self._logins.popleft()
        if deny or user_id is None:
            return _redirect(redirect_uri, {"error": "access_denied", **state})
        code = "AQ" + secrets.token_urlsafe(160)
        self._codes[code] = _AuthCode(
            app.client_id,
            user_id,
            redirect_uri,
            _norm_scope(query.get("scope", "")),
            query.get("code_challenge"),
            self.now() + AUTH_CODE_LIFETIME,
        )
        response = _redirect(redirect_uri, {"code": code, **state})
        response.user, response.client_id = user_id, app.client_id
        return response

    def _token(self, request: _Request) -> _Response:
        client = self._client(request)
        if isinstance(client, _Response):
            return client
        app, has_secret = client
        grant_type = request.form.get("grant_type")
        if not grant_type:
            return _oauth_error("unsupported_grant_type", "grant_type parameter is missing")
        handlers = {
            "authorization_code": self._grant_code,
            "refresh_token": self._grant_refresh,
            "client_credentials": self._grant_client,
        }
        if grant_type not in handlers:
            expected = "grant_type must be client_credentials, authorization_code or refresh_token"
            return _oauth_error("unsupported_grant_type", expected)
        response = handlers[grant_type](request.form, app, has_secret)
        response.client_id = app.client_id
        return response

    def _client(self, request: _Request) -> tuple[_App, bool] | _Response:
        """The calling app, from HTTP Basic or form fields; the bool says whether a secret was proven."""
        client_id, secret = _basic_credentials(request)
        if client_id is None:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        app = self._apps.get(client_id or "")
        if app is None:
            return _oauth_error("invalid_client", "Invalid client")
        if secret is not None and not secrets.compare_digest(secret, app.client_secret):
            return _oauth_error("invalid_client", "Invalid client secret")
        return app, secret is not None

    def _grant_code(self, form: dict[str, str], app: _App, has_secret: bool) -> _Response:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or self.now() > code.expires_at or code.client_id != app.client_id:
            return _oauth_error("invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "Invalid redirect URI")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier or _s256(verifier) != code.challenge:
                return _oauth_error("invalid_grant", "code_verifier was incorrect")
        elif not has_secret:
            return _oauth_error("invalid_client", "Invalid client secret")
        code.used = True
        grant = _Grant(app.client_id, code.user_id, code.scope, code.challenge is not None, self.now())
        body = self._token_body(grant)
        body["refresh_token"] = self._store_grant(grant)
        return _tag(_json(200, body), grant)

    def _grant_refresh(self, form: dict[str, str], app: _App, has_secret: bool) -> _Response:
        old = form.get("refresh_token", "")
        grant = self._grants.get(old)
        if (
            grant is None
            or grant.revoked
            or grant.client_id != app.client_id
            or self.now() > grant.consented_at + self.refresh_token_ttl
        ):
            return _oauth_error("invalid_grant", "Invalid refresh token")
        if not grant.pkce and not has_secret:
            return _oauth_error("invalid_client", "Invalid client secret")
        body = self._token_body(grant)
        user = self._users.get(grant.user_id)
        if user is not None and user.rotate_refresh_tokens:
            grant.revoked = True
            body["refresh_token"] = self._store_grant(_Grant(**{**vars(grant), "revoked": False}))
        return _tag(_json(200, body), grant)

    def _grant_client(self, form: dict[str, str], app: _App, has_secret: bool) -> _Response:
        if not has_secret:
            return _oauth_error("invalid_client", "Invalid client secret")
        token = self._new_access_token(app.client_id, None, "")
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.access_token_ttl}
        return _json(200, body)  # _token() records the client id

    def _token_body(self, grant: _Grant) -> JsonObject:
        return {
            "access_token": self._new_access_token(grant.client_id, grant.user_id, grant.scope),
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "scope": grant.scope,
        }


# ----- request helpers --------------------------------------------------------------------------------
def _tag(response: _Response, credential: _AccessToken | _Grant) -> _Response:
    """Record for the request log whom (and which app) a response was for."""
    response.user, response.client_id = credential.user_id, credential.client_id
    return response


def _bearer(request: _Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _basic_credentials(request: _Request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
    except ValueError:
        return None, None
    return client_id, secret


def _norm_scope(scope: str) -> str:
    return " ".join(dict.fromkeys(scope.replace(",", " ").split()))


def _authorize_error(query: dict[str, str]) -> str | None:
    if query.get("response_type") != "code":
        return "unsupported_response_type"
    if not set(_norm_scope(query.get("scope", "")).split()) <= KNOWN_SCOPES:
        return "invalid_scope"
    if "code_challenge" in query and query.get("code_challenge_method") != "S256":
        return "invalid_request"
    return None


def _cursor_params(query: dict[str, str]) -> tuple[int, int | None, int | None] | _Response:
    """``limit`` (1..50, default 20) and at most one of the ``after``/``before`` unix-ms cursors."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        return _api_error(400, "Invalid limit")
    if not 1 <= limit <= 50:
        return _api_error(400, "Invalid limit")
    if "after" in query and "before" in query:
        return _api_error(400, "Only one of after or before can be specified")
    cursors: dict[str, int | None] = {"after": None, "before": None}
    for name in cursors:
        if name in query:
            try:
                cursors[name] = int(query[name])
            except ValueError:
                return _api_error(400, f"Invalid {name} parameter")
    return limit, cursors["after"], cursors["before"]


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/authorize$"), "_authorize"),
    ("POST", re.compile(r"^/api/token$"), "_token"),
    ("GET", re.compile(r"^/v1/me$"), "_me"),
    ("GET", re.compile(r"^/v1/me/player/recently-played$"), "_recently_played"),
    ("GET", re.compile(r"^/v1/(tracks|albums|artists)$"), "_batch"),
    ("GET", re.compile(r"^/v1/(tracks|albums|artists)/([^/]+)$"), "_catalog_item"),
]


# ----- HTTP plumbing ----------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = False  # non-daemon threads are joined by server_close(): nothing outlives stop()
    block_on_close = True
    request_queue_size = 1024  # the default backlog of 5 drops connections under 1,000-user bursts
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeSpotify
    ) -> None:
        super().__init__(address, handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (or stop() closing idle connections) is not an error of the fake.
        if not isinstance(sys.exc_info()[1], OSError):
            self.fake.internal_errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API; spotipy reuses pooled connections
    timeout = 30  # idle keep-alive connections are dropped, as real servers do
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def version_string(self) -> str:
        return "envoy"  # what api.spotify.com answers with

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        is_form = "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or "")
        request = _Request(
            method=self.command,
            path=split.path.rstrip("/") or "/",  # spotipy asks for "me/"; Spotify accepts either
            query_pairs=parse_qsl(split.query, keep_blank_values=True),
            raw_query=split.query,
            headers=self.headers,  # case-insensitive lookups, like HTTP
            form=dict(parse_qsl(raw_body.decode("utf-8", "replace"))) if is_form else {},
        )
        response = self.server.fake._handle(request)
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.cut_off:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fake keeps its own request log
