"""The user registry against a real MongoDB-wire server (SecantusDB), through the real pymongo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracktracker_assets.users.registry import Registry, RegistryError


@pytest.fixture
def registry(settings) -> Registry:
    from tracktracker_assets.services.local import open_registry

    with open_registry(settings) as reg:
        yield reg


def test_add_list_remove(registry: Registry) -> None:
    registry.add_user("reg-alice", "Alice", "Europe/Berlin")
    user = registry.require_user("reg-alice")
    assert (user.display_name, user.timezone, user.status) == ("Alice", "Europe/Berlin", "active")
    assert "reg-alice" in registry.user_ids()
    with pytest.raises(RegistryError, match="already exists"):
        registry.add_user("reg-alice")
    assert registry.remove_user("reg-alice")
    with pytest.raises(RegistryError, match=r"Unknown user 'reg-alice'.*users add"):
        registry.require_user("reg-alice")


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "Europe/Berln", "", "UTC+5"])
def test_time_zone_must_exist(registry: Registry, bad: str) -> None:
    with pytest.raises(RegistryError, match=r"Unknown time zone.*IANA"):
        registry.add_user("reg-tz", timezone=bad)
    assert registry.get_user("reg-tz") is None


def test_change_renames_and_moves_only_who_exists(registry: Registry) -> None:
    registry.add_user("reg-mover", "Mo", "Europe/Lisbon")
    before, after = registry.change_user("reg-mover", timezone="Asia/Tokyo")
    assert (before.display_name, before.timezone) == ("Mo", "Europe/Lisbon")
    assert (after.display_name, after.timezone) == ("Mo", "Asia/Tokyo")
    before, after = registry.change_user("reg-mover", display_name="Maureen")
    assert (before.display_name, after.display_name, after.timezone) == ("Mo", "Maureen", "Asia/Tokyo")
    assert registry.require_user("reg-mover") == after
    with pytest.raises(RegistryError, match=r"Unknown time zone 'Asia/Tokio': give an IANA name"):
        registry.change_user("reg-mover", timezone="Asia/Tokio")
    with pytest.raises(RegistryError, match=r"Nothing to change: give --name or --timezone"):
        registry.change_user("reg-mover")
    assert registry.require_user("reg-mover").timezone == "Asia/Tokyo"
    registry.remove_user("reg-mover")
    with pytest.raises(RegistryError, match=r"Unknown user 'reg-mover'.*users add"):
        registry.change_user("reg-mover", timezone="UTC")
    assert registry.get_user("reg-mover") is None  # never created by a change


@pytest.mark.parametrize("bad", ["Alice", "a b", "-x", "ä", "x" * 64, "../etc"])
def test_user_id_is_a_slug(registry: Registry, bad: str) -> None:
    with pytest.raises(RegistryError, match="not a valid user id"):
        registry.add_user(bad)


def test_tokens_are_encrypted_at_rest(registry: Registry) -> None:
    registry.add_user("reg-token")
    token = {"access_token": "AQ-access-secret", "refresh_token": "AQ-refresh-secret", "expires_at": 1}
    registry.save_token("reg-token", token, spotify_user_id="spotify-123")
    raw = registry.tokens.find_one({"user_id": "reg-token"})
    assert "AQ-refresh-secret" not in str(raw) and "AQ-access-secret" not in str(raw)
    assert registry.load_token("reg-token") == token
    assert registry.require_user("reg-token").connected
    registry.remove_user("reg-token")
    assert registry.load_token("reg-token") is None


def test_oauth_session_expiry_is_checked_on_read(registry: Registry) -> None:
    registry.create_session("state-ok", "reg-s", "verifier-1", ttl_s=600)
    assert registry.take_session("state-ok") == ("reg-s", "verifier-1")
    with pytest.raises(RegistryError, match="already used"):
        registry.take_session("state-ok")
    registry.create_session("state-old", "reg-s", "verifier-2", ttl_s=600)
    registry.sessions.update_one(
        {"state": "state-old"}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    with pytest.raises(RegistryError, match="expired"):
        registry.take_session("state-old")


def test_upsert_keeps_creation_and_status(registry: Registry) -> None:
    first = registry.upsert_user("reg-up", "One", "Asia/Tokyo")
    registry.set_status("reg-up", "needs_reauth", "invalid_grant")
    second = registry.upsert_user("reg-up", "Two", "Asia/Tokyo")
    assert second.created_at == first.created_at
    assert (second.display_name, second.status) == ("Two", "needs_reauth")


def test_disconnect_forgets_each_account_and_keeps_the_listener(registry: Registry) -> None:
    registry.add_user("reg-leaving")
    token = {"access_token": "AQ-access", "refresh_token": "AQ-refresh", "expires_at": 1}
    registry.save_token("reg-leaving", token, spotify_user_id="spotify-456")
    registry.set_status("reg-leaving", "needs_reauth", "invalid_grant")
    registry.connect_lastfm("reg-leaving", "LeavingFM")
    registry.record_live_problem("reg-leaving", "lastfm", "the profile hides its recent listening")
    registry.connect_listenbrainz("reg-leaving", "leaving-lb", "lb-secret-token")

    assert registry.disconnect("reg-leaving", "spotify") == "spotify-456"
    user = registry.require_user("reg-leaving")
    assert registry.load_token("reg-leaving") is None and not user.connected
    # nothing left to reconnect: no longer a listener who must act
    assert (user.status, user.last_error) == ("active", None)
    assert "reg-leaving" not in {u.user_id for u in registry.connected_users()}
    # a pull that was refreshing its access token meanwhile does not bring the consent back
    registry.save_token("reg-leaving", {**token, "access_token": "AQ-newer"}, create=False)
    assert registry.load_token("reg-leaving") is None
    # the live accounts are untouched by Spotify's
    assert (user.lastfm_user, user.listenbrainz_user) == ("LeavingFM", "leaving-lb")

    assert registry.disconnect("reg-leaving", "lastfm") == "LeavingFM"
    user = registry.require_user("reg-leaving")
    assert user.lastfm_user is None and user.live_error("lastfm") is None and user.problems == ""
    assert "reg-leaving" not in {u.user_id for u in registry.live_users("lastfm")}
    assert "reg-leaving" in {u.user_id for u in registry.live_users("listenbrainz")}

    assert registry.disconnect("reg-leaving", "listenbrainz") == "leaving-lb"
    assert registry.require_user("reg-leaving").listenbrainz_user is None
    assert registry.listenbrainz_token("reg-leaving") is None
    assert registry.users.find_one({"user_id": "reg-leaving"})["listenbrainz_token"] is None

    # again: nothing was connected; the listener is still registered
    for service in ("spotify", "lastfm", "listenbrainz"):
        assert registry.disconnect("reg-leaving", service) is None
    with pytest.raises(RegistryError, match=r"from 'deezer': give one of spotify, lastfm, listenbrainz"):
        registry.disconnect("reg-leaving", "deezer")
    with pytest.raises(RegistryError, match="Unknown user 'reg-nobody'"):
        registry.disconnect("reg-nobody", "lastfm")
    assert registry.remove_user("reg-leaving")


def test_a_disabled_listener_stays_disabled_when_disconnected(registry: Registry) -> None:
    registry.add_user("reg-disabled")
    registry.save_token("reg-disabled", {"access_token": "a", "refresh_token": "r"}, spotify_user_id="sp")
    registry.set_status("reg-disabled", "disabled", "disabled by the operator")
    assert registry.disconnect("reg-disabled", "spotify") == "sp"
    user = registry.require_user("reg-disabled")
    assert (user.status, user.last_error, user.connected) == ("disabled", "disabled by the operator", False)
    assert registry.remove_user("reg-disabled")


def test_a_process_done_with_the_registry_does_not_wait_for_its_threads_at_exit(settings) -> None:
    """pymongo's exit handler joins every client's monitor threads, and a closed client's threads sleep
    in half-second steps before they see it: each command that used the registry waited for them once
    its work was done. Closed here, its clients leave that handler nothing to do, and nothing to wait
    for; the process still exits cleanly, with nothing on stderr."""
    import subprocess
    import sys

    code = (
        "import atexit, threading\n"
        "joined = []\n"
        "join = threading.Thread.join\n"
        "def recorded(thread, timeout=None):\n"
        "    joined.append(thread.name)\n"
        "    return join(thread, timeout)\n"
        "threading.Thread.join = recorded\n"
        "from tracktracker_assets.services.local import open_registry\n"
        "from tracktracker_assets.settings import get_settings\n"
        "with open_registry(get_settings()) as registry:\n"
        "    registry.user_ids()\n"
        "atexit._run_exitfuncs()\n"
        "print(sorted(name for name in joined if name.startswith('pymongo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
