"""Superset accounts of listeners: username = registry user_id, role Listener, one per registry user.

A listener's password is generated once and kept in secrets/superset-listeners/<user_id> (0600) so the
operator can hand it over (`tracktracker superset login USER`); a listener may change it in Superset
and provisioning leaves a changed password alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from tracktracker_assets.dashboards.client import SupersetClient, SupersetError
from tracktracker_assets.dashboards.security import LISTENER_ROLE, role_id
from tracktracker_assets.settings import Settings, read_or_create_secret
from tracktracker_assets.users.registry import User, validate_user_id


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


class AccountConflict(RuntimeError):
    """A registry user id names a Superset account that is not a listener's (e.g. `admin`)."""


def password_file(settings: Settings, user_id: str) -> Path:
    return settings.secrets_dir / "superset-listeners" / user_id


def listener_password(settings: Settings, user_id: str) -> str | None:
    """The password generated for a listener, if one was (None after `ensure_listener(password=...)`)."""
    path = password_file(settings, validate_user_id(user_id))
    return path.read_text().strip() if path.exists() else None


def store_password(settings: Settings, user_id: str, password: str) -> None:
    """Keep a listener's password for `tracktracker superset login` to show (0600, like every secret)."""
    path = password_file(settings, validate_user_id(user_id))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    read_or_create_secret(path, lambda: password)


def _all_users(client: SupersetClient) -> dict[str, dict[str, Any]]:
    return {row["username"]: row for row in client.list("security/users", order_column="id")}


def _payload(user: User, listener_role: int) -> dict[str, Any]:
    return {
        "first_name": user.display_name or user.user_id,
        "last_name": "",
        "email": f"{user.user_id}@listeners.tracktracker.invalid",
        # a disabled listener cannot log in; one that must reconnect Spotify still sees their data
        "active": user.status != "disabled",
        "roles": [listener_role],
    }


def _differs(row: dict[str, Any], payload: dict[str, Any]) -> bool:
    roles = sorted(r["id"] if isinstance(r, dict) else r for r in row.get("roles", []))
    return (
        row.get("first_name") != payload["first_name"]
        or row.get("email") != payload["email"]
        or bool(row.get("active")) != payload["active"]
        or roles != payload["roles"]
    )


def ensure_listener(
    client: SupersetClient,
    settings: Settings,
    user: User,
    *,
    password: str | None = None,
    existing: dict[str, Any] | None = None,
    listener_role: int | None = None,
) -> str:
    """Create or update the Superset account of a registry user. Returns "created", "updated" or ""."""
    validate_user_id(user.user_id)
    listener_role = listener_role or role_id(client, LISTENER_ROLE)
    if listener_role is None:
        raise RuntimeError("Superset has no Listener role yet: provision Superset first.")
    secret = password_file(settings, user.user_id)
    if password is not None:
        secret.unlink(missing_ok=True)  # a given password is the caller's to keep
    payload = _payload(user, listener_role)
    row = existing if existing is not None else _all_users(client).get(user.user_id)
    if row is None:
        if password is None:
            secret.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            password = read_or_create_secret(secret)
        client.post("/api/v1/security/users/", {**payload, "username": user.user_id, "password": password})
        return "created"
    roles = {r["id"] if isinstance(r, dict) else r for r in row.get("roles", [])}
    if roles - {listener_role}:
        raise AccountConflict(
            f"Superset already has an account {user.user_id!r} that is not a listener's; it is left alone. "
            "Give the listener another user id."
        )
    if password is not None or _differs(row, payload):
        client.put(
            f"/api/v1/security/users/{row['id']}", {**payload, **({"password": password} if password else {})}
        )
        return "updated"
    return ""


def _delete_account(client: SupersetClient, row: dict[str, Any]) -> None:
    try:
        client.delete(f"/api/v1/security/users/{row['id']}")
    except SupersetError as exc:
        if exc.status != 422:
            raise
        # their SQL Lab history or saved objects still reference them: lock the account instead
        client.put(f"/api/v1/security/users/{row['id']}", {"active": False, "password": token_urlsafe(32)})


def remove_listener(client: SupersetClient, settings: Settings, user_id: str) -> bool:
    """Delete (or lock) the Superset account of a listener and their stored password."""
    password_file(settings, validate_user_id(user_id)).unlink(missing_ok=True)
    row = _all_users(client).get(user_id)
    if row is None:
        return False
    _delete_account(client, row)
    return True


def sync_listeners(
    client: SupersetClient, settings: Settings, users: list[User], *, prune: bool = True
) -> SyncResult:
    """Superset accounts follow the registry: one per user; with prune, Listener-only accounts of users
    no longer registered are removed."""
    result = SyncResult()
    listener_role = role_id(client, LISTENER_ROLE)
    if listener_role is None:
        raise RuntimeError("Superset has no Listener role yet: provision Superset first.")
    accounts = _all_users(client)
    for user in users:
        try:
            outcome = ensure_listener(
                client, settings, user, existing=accounts.get(user.user_id), listener_role=listener_role
            )
        except AccountConflict:
            result.conflicts.append(user.user_id)
            continue
        if outcome:
            getattr(result, outcome).append(user.user_id)
    if prune:
        registered = {u.user_id for u in users}
        for username, row in accounts.items():
            roles = [r["id"] if isinstance(r, dict) else r for r in row.get("roles", [])]
            if username not in registered and roles == [listener_role] and row.get("active"):
                password_file(settings, username).unlink(missing_ok=True)
                _delete_account(client, row)
                result.removed.append(username)
    return result
