"""Connecting a listener's Spotify account: the authorization-code flow, with PKCE when no client secret
is configured. The state and PKCE verifier wait in the registry (expiring, checked on read) between
the redirect to Spotify and the callback, so the two halves can run in different processes (the CLI's
local listener, or the page served inside Superset).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from spotipy.oauth2 import SpotifyPKCE

from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.client import (
    RegistryTokenCache,
    SpotifyNotConfigured,
    api,
    http_session,
    user_auth_manager,
)
from tracktracker_assets.users.registry import Registry, RegistryError, User

__all__ = ["SpotifyNotConfigured", "authorization_url", "complete_authorization", "parse_redirect"]

SESSION_TTL_S = 600


def _registry(settings: Settings) -> Registry:
    return Registry(settings.mongo_url, settings.mongo_db, settings.secret_key)


def authorization_url(settings: Settings, user_id: str, redirect_uri: str) -> str:
    """The Spotify consent URL for this user; remembers state (and verifier) for the callback."""
    with _registry(settings) as registry:
        registry.require_user(user_id)
        with http_session() as http:
            auth = user_auth_manager(settings, MemoryCacheHandler(), http, redirect_uri)
            verifier = None
            if isinstance(auth, SpotifyPKCE):
                auth.get_pkce_handshake_parameters()
                verifier = auth.code_verifier
            state = secrets.token_urlsafe(24)
            registry.create_session(state, user_id, verifier, ttl_s=SESSION_TTL_S)
            return auth.get_authorize_url(state)


def parse_redirect(url: str) -> tuple[str | None, str | None, str | None]:
    """(state, code, error) from the URL Spotify redirected the browser to."""
    query = parse_qs(urlsplit(url.strip()).query)
    first = {key: values[0] for key, values in query.items()}
    return first.get("state"), first.get("code"), first.get("error")


def complete_authorization(
    settings: Settings, state: str | None, code: str | None, error: str | None, redirect_uri: str
) -> User:
    """Exchange the callback's code for tokens (kept encrypted in the registry); the connected user."""
    if not state:
        raise RegistryError("The redirect carries no state: start connecting again.")
    with _registry(settings) as registry:
        user_id, verifier = registry.take_session(state)
        if error:
            reason = "you declined access" if error == "access_denied" else f"Spotify answered {error!r}"
            raise RegistryError(f"Spotify was not connected for {user_id}: {reason}. You can try again.")
        if not code:
            raise RegistryError("The redirect carries no authorization code: start connecting again.")
        with http_session() as http:
            auth = user_auth_manager(
                settings, RegistryTokenCache(registry, user_id, consent=True), http, redirect_uri
            )
            if isinstance(auth, SpotifyPKCE):
                # both, or spotipy generates a fresh pair and the exchange fails
                auth.code_verifier = verifier
                auth.code_challenge = auth._get_code_challenge()
            try:
                if isinstance(auth, SpotifyPKCE):
                    auth.get_access_token(code, check_cache=False)
                else:  # the token lands in our cache handler; as_dict=True is deprecated
                    auth.get_access_token(code, as_dict=False, check_cache=False)
                profile = api(settings, auth, http).me()
            except SpotifyOauthError as exc:
                raise RegistryError(
                    f"Spotify refused the sign-in for {user_id} ({exc.error}: {exc.error_description}). "
                    "Start connecting again."
                ) from None
            except SpotifyException as exc:
                raise RegistryError(
                    f"Spotify answered {exc.http_status} when reading the profile of {user_id}: {exc.msg}. "
                    "If the app is in development mode, add this Spotify account to its users."
                ) from None
        token = registry.load_token(user_id)
        assert token is not None
        registry.save_token(user_id, token, spotify_user_id=profile["id"])
        return registry.require_user(user_id)
