"""The fake Spotify (the one part allowed to be fake) wired into the product's settings, and helpers to
connect registry users to fake Spotify accounts."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.spotify_server import FakeSpotify, FakeUser
from tracktracker_assets.spotify.client import SCOPE

SPOTIFY_ENV = (
    "TRACKTRACKER_SPOTIFY_CLIENT_ID",
    "TRACKTRACKER_SPOTIFY_CLIENT_SECRET",
    "TRACKTRACKER_SPOTIFY_API_URL",
    "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL",
    "TRACKTRACKER_SPOTIFY_REDIRECT_URI",
    "TRACKTRACKER_SPOTIFY_MAX_WAIT_S",
)


@pytest.fixture(scope="module")
def fake(settings) -> Iterator[FakeSpotify]:
    """A fake Spotify on a free port, and TrackTracker configured to use it (with a client secret)."""
    from tracktracker_assets.services.state import free_port

    saved = {k: os.environ.get(k) for k in SPOTIFY_ENV}
    with FakeSpotify(visible_plays=None) as server:
        os.environ.update(
            {
                "TRACKTRACKER_SPOTIFY_CLIENT_ID": server.client_id,
                "TRACKTRACKER_SPOTIFY_CLIENT_SECRET": server.client_secret,
                "TRACKTRACKER_SPOTIFY_API_URL": server.api_base,
                "TRACKTRACKER_SPOTIFY_ACCOUNTS_URL": server.base_url.rstrip("/"),
                "TRACKTRACKER_SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/callback",
                "TRACKTRACKER_SPOTIFY_MAX_WAIT_S": "2",
            }
        )
        yield server
        assert server.internal_errors == []
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def connect_directly(
    fake: FakeSpotify, user_id: str, spotify_id: str | None = None, *, rotate: bool = False
) -> str:
    """A registry user connected to a fake Spotify account as if consent had just been given;
    returns the refresh token."""
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.settings import get_settings

    account = fake.add_user(spotify_id or f"sp-{user_id}", display_name=user_id, rotate_refresh_tokens=rotate)
    token = consent_token(fake, account)
    with open_registry(get_settings()) as registry:
        if registry.get_user(user_id) is None:
            registry.add_user(user_id, timezone="Europe/Madrid")
        registry.save_token(user_id, token, spotify_user_id=account.id)
    return token["refresh_token"]


def consent_token(fake: FakeSpotify, account: FakeUser) -> dict:
    """The token a finished consent leaves in the cache: a valid refresh token, an expired access token."""
    return {
        "access_token": "none-yet",
        "token_type": "Bearer",
        "expires_in": 0,
        "expires_at": 0,
        "refresh_token": fake.issue_refresh_token(account),
        "scope": SCOPE,
    }
