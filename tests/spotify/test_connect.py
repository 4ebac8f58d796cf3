"""Connecting a listener through Spotify's real authorization-code flow (against the fake accounts
service), via the CLI's local redirect listener and via the headless paste."""

from __future__ import annotations

import io
import threading

import requests
from rich.console import Console

from tests.conftest import cli
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.users.registry import RegistryError


def _consent(fake, url: str) -> str:
    """What the browser does: open the consent page, follow nothing; the redirect's address."""
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_connect_through_the_local_redirect_listener(fake) -> None:
    from tracktracker_assets.cli.connect import connect_user

    cli("users", "add", "conn-local", "--timezone", "Europe/Paris")
    account = fake.add_user("spotify-local")
    fake.approve_next_login(account)
    printed: list[str] = []
    console = Console(file=io.StringIO(), record=True, width=500)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["user"] = connect_user(
                get_settings(), console, "conn-local", headless=False, open_browser=False, timeout_s=30
            )
        except RegistryError as exc:
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    # the browser: the consent URL the command printed, then Spotify's redirect to the local listener
    for _ in range(100):
        printed = [line for line in console.export_text(clear=False).split() if line.startswith("http")]
        if printed:
            break
        threading.Event().wait(0.05)
    landing = requests.get(_consent(fake, printed[0]), timeout=10)
    thread.join(10)
    assert "Spotify connected" in landing.text and "code=" not in landing.text
    user = result["user"]
    assert user.spotify_user_id == "spotify-local" and user.status == "active"
    with open_registry(get_settings()) as registry:
        raw = registry.tokens.find_one({"user_id": "conn-local"})
        token = registry.load_token("conn-local")
    assert token["refresh_token"] and token["refresh_token"] not in str(raw)


def test_connect_headless_with_pkce(fake, monkeypatch) -> None:
    """A public app (no secret): PKCE. The user opens the printed address on another device and pastes
    the address Spotify sent the browser to."""
    from tracktracker_assets.cli.connect import connect_user

    monkeypatch.delenv("TRACKTRACKER_SPOTIFY_CLIENT_SECRET")
    cli("users", "add", "conn-headless")
    fake.approve_next_login(fake.add_user("spotify-headless"))
    console = Console(file=io.StringIO(), record=True, width=500)

    def paste(prompt_text: str) -> str:
        url = next(word for word in console.export_text(clear=False).split() if word.startswith("http"))
        assert "code_challenge=" in url and "code_challenge_method=S256" in url
        return _consent(fake, url)

    user = connect_user(
        get_settings(), console, "conn-headless", headless=True, open_browser=False, prompt=paste
    )
    assert user.spotify_user_id == "spotify-headless"
    token_posts = fake.requests_to("/api/token")
    assert any("code_verifier" in (r.form or {}) for r in token_posts)
    _, output = cli("users", "list")
    assert "conn-headless" in output and "connected" in output


def test_denied_consent_and_reused_state_are_clear_errors(fake) -> None:
    from tracktracker_assets.spotify.connect import authorization_url, complete_authorization, parse_redirect

    cli("users", "add", "conn-denied")
    settings = get_settings()
    fake.deny_next_login()
    url = authorization_url(settings, "conn-denied", settings.spotify_redirect_uri)
    state, code, error = parse_redirect(_consent(fake, url))
    try:
        complete_authorization(settings, state, code, error, settings.spotify_redirect_uri)
        raise AssertionError("denied consent must fail")
    except RegistryError as exc:
        assert "declined" in str(exc)
    try:
        complete_authorization(settings, state, "a-code", None, settings.spotify_redirect_uri)
        raise AssertionError("a state is single-use")
    except RegistryError as exc:
        assert "already used" in str(exc)
    code_exit, output = cli("users", "connect", "nobody-at-all", "--no-browser")
    assert code_exit == 1 and "Unknown user 'nobody-at-all'" in output
