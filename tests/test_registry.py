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
