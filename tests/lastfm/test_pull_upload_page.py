"""The upload page's account forms (the Last.fm and ListenBrainz usernames, disconnecting a service, the
time zone), through the real blueprint and template in a bare Flask app with Flask-Login and CSRF
protection, signed in as the listener (the full Superset stack is tests/dashboards' job)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_wtf.csrf import CSRFProtect

from tracktracker_assets.dashboards.upload_page import blueprint
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings


class Listener(UserMixin):
    def __init__(self, username: str) -> None:
        self.id = self.username = username


@pytest.fixture
def client(settings) -> Iterator[object]:
    with open_registry(get_settings()) as registry:
        if registry.get_user("paula") is None:
            registry.add_user("paula", timezone="Europe/Rome")
        registry.connect_listenbrainz("paula", "paula-lb", "paula-secret-token-0001")
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    CSRFProtect(app)
    login = LoginManager(app)
    login.user_loader(Listener)
    app.register_blueprint(blueprint)
    with app.test_client() as client:
        with client.session_transaction() as session:
            session["_user_id"] = "paula"
        yield client


def test_the_form_sets_both_names_and_keeps_the_token(client) -> None:
    page = client.get("/tracktracker/upload")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'action="/tracktracker/accounts"' in html and 'value="paula-lb"' in html

    saved = client.post(
        "/tracktracker/accounts", data={"lastfm_user": "PaulaFM", "listenbrainz_user": "paula-lb"}
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/tracktracker/upload")
    with open_registry(get_settings()) as registry:
        user = registry.require_user("paula")
        assert (user.lastfm_user, user.listenbrainz_user) == ("PaulaFM", "paula-lb")
        assert registry.listenbrainz_token("paula") == "paula-secret-token-0001"  # same name: kept
    after = client.get("/tracktracker/upload").get_data(as_text=True)
    assert "Saved: Last.fm as PaulaFM and ListenBrainz as paula-lb." in after
    assert "paula-secret-token-0001" not in after

    bad = client.post(
        "/tracktracker/accounts", data={"lastfm_user": "no spaces allowed", "listenbrainz_user": ""}
    )
    assert bad.status_code == 400 and "is not a Last.fm username" in bad.get_data(as_text=True)
    empty = client.post("/tracktracker/accounts", data={"lastfm_user": " ", "listenbrainz_user": ""})
    assert empty.status_code == 400
    client.post("/tracktracker/accounts", data={"listenbrainz_user": "paula-new"})
    with open_registry(get_settings()) as registry:
        assert registry.require_user("paula").lastfm_user == "PaulaFM"  # an empty field changes nothing
        assert registry.listenbrainz_token("paula") is None  # another account: the old token is dropped


def test_each_connected_service_is_disconnected_from_the_page(client) -> None:
    with open_registry(get_settings()) as registry:
        registry.connect_lastfm("paula", "PaulaFM")
        consent = {"access_token": "AQ-a", "refresh_token": "AQ-r", "expires_at": 1}
        registry.save_token("paula", consent, spotify_user_id="paula-sp")
    html = client.get("/tracktracker/upload").get_data(as_text=True)
    assert html.count('action="/tracktracker/accounts/disconnect"') == 3
    for service in ("spotify", "lastfm", "listenbrainz"):
        assert f'name="service" value="{service}"' in html

    done = client.post("/tracktracker/accounts/disconnect", data={"service": "lastfm"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/tracktracker/upload")
    after = client.get("/tracktracker/upload").get_data(as_text=True)
    assert (
        "Disconnected Last.fm (PaulaFM): nothing more is fetched from there. Your plays already here stay."
        in after
    )
    assert 'value="lastfm"' not in after and 'value="listenbrainz"' in after
    client.post("/tracktracker/accounts/disconnect", data={"service": "spotify"})
    after = client.get("/tracktracker/upload").get_data(as_text=True)
    assert "Disconnected Spotify (paula-sp)" in after and "spotify.com/account/apps" in after
    assert 'value="spotify"' not in after and "Connect Spotify" in after
    with open_registry(get_settings()) as registry:
        user = registry.require_user("paula")
        assert (user.lastfm_user, user.listenbrainz_user, user.connected) == (None, "paula-lb", False)
        assert registry.load_token("paula") is None

    client.post("/tracktracker/accounts/disconnect", data={"service": "lastfm"})
    after = client.get("/tracktracker/upload").get_data(as_text=True)
    assert "You were not connected to Last.fm: nothing changed." in after
    bad = client.post("/tracktracker/accounts/disconnect", data={"service": "deezer"})
    assert bad.status_code == 400 and "pulls nothing from &#39;deezer&#39;" in bad.get_data(as_text=True)


def test_the_listener_moves_their_own_time_zone(client) -> None:
    with open_registry(get_settings()) as registry:
        registry.change_user("paula", timezone="Europe/Rome")
    html = client.get("/tracktracker/upload").get_data(as_text=True)
    assert 'action="/tracktracker/timezone"' in html and 'name="timezone" value="Europe/Rome"' in html
    assert '<option value="America/Santiago">' in html  # the field suggests every zone the registry takes
    try:
        moved = client.post("/tracktracker/timezone", data={"timezone": " America/Santiago "})
        assert moved.status_code == 302 and moved.headers["Location"].endswith("/tracktracker/upload")
        with open_registry(get_settings()) as registry:
            assert registry.require_user("paula").timezone == "America/Santiago"
        after = client.get("/tracktracker/upload").get_data(as_text=True)
        assert "Your time zone is America/Santiago now (was Europe/Rome)." in after
        assert "count days and hours in <b>America/Santiago</b>" in after

        bad = client.post("/tracktracker/timezone", data={"timezone": "Europe/Rom"})
        text = bad.get_data(as_text=True)
        assert bad.status_code == 400 and "Unknown time zone &#39;Europe/Rom&#39;" in text
        assert "Did you mean: Europe/Rome" in text
        empty = client.post("/tracktracker/timezone", data={"timezone": "  "})
        assert empty.status_code == 400 and "Choose a time zone first" in empty.get_data(as_text=True)
        with open_registry(get_settings()) as registry:
            assert registry.require_user("paula").timezone == "America/Santiago"  # refused: unchanged

        client.post("/tracktracker/timezone", data={"timezone": "America/Santiago"})
        again = client.get("/tracktracker/upload").get_data(as_text=True)
        assert "Your time zone stays America/Santiago." in again
    finally:
        with open_registry(get_settings()) as registry:
            registry.change_user("paula", timezone="Europe/Rome")
