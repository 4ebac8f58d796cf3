"""The user registry in MongoDB: users, their Spotify tokens, OAuth sign-in sessions, and the accounts
of the other services pulled live (Last.fm and ListenBrainz usernames, the ListenBrainz token).

This is the only module that talks to MongoDB. Locally it runs against SecantusDB (a MongoDB-wire
server from PyPI); docker-compose runs it against the real `mongo` image.

Tokens are stored as one Fernet-encrypted blob (key from TRACKTRACKER_SECRET_KEY or generated under
TRACKTRACKER_HOME), so neither the refresh nor the access token is readable in the raw document.
A ListenBrainz user token is encrypted the same way, in the user's own document (`users remove` deletes
it with the document). OAuth sessions carry an expiry that is checked on read; the TTL index only cleans up.
"""

from __future__ import annotations

import atexit
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cryptography.fernet import Fernet, InvalidToken
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.synchronous import monitor as pymongo_monitor

USER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STATUSES = ("active", "needs_reauth", "disabled")
LIVE_SERVICES = ("lastfm", "listenbrainz")
# the user document's field naming each live service's account
LIVE_ACCOUNT_FIELD = {"lastfm": "lastfm_user", "listenbrainz": "listenbrainz_user"}
# what `users disconnect` stops: Spotify's consent and each live service's account; names people read
SERVICES = ("spotify", *LIVE_SERVICES)
SERVICE_LABELS = {"spotify": "Spotify", "lastfm": "Last.fm", "listenbrainz": "ListenBrainz"}
# Last.fm: 2-15 characters, a letter first, then letters, digits, '_' or '-' (its sign-up form's rule);
# ListenBrainz names are MusicBrainz editor names: anything printable but '/' (it is a path segment)
LASTFM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,14}$")
LISTENBRAINZ_NAME = re.compile(r"^[^/\s\x00-\x1f][^/\x00-\x1f]{0,63}$")


class RegistryError(Exception):
    """A registry operation a person asked for cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class User:
    user_id: str
    display_name: str
    timezone: str
    status: str
    created_at: datetime
    spotify_user_id: str | None = None
    last_pull_at: datetime | None = None
    last_error: str | None = None
    connected_at: datetime | None = None  # the last consent (connect or reconnect)
    lastfm_user: str | None = None
    listenbrainz_user: str | None = None
    # per live service ("lastfm", "listenbrainz"): {"last_pull_at": ..., "last_error": ...}
    live: dict[str, dict[str, Any]] | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> User:
        return cls(
            user_id=doc["user_id"],
            display_name=doc.get("display_name") or doc["user_id"],
            timezone=doc.get("timezone") or "UTC",
            status=doc.get("status") or "active",
            created_at=doc.get("created_at") or datetime.now(UTC),
            spotify_user_id=doc.get("spotify_user_id"),
            last_pull_at=doc.get("last_pull_at"),
            last_error=doc.get("last_error"),
            connected_at=doc.get("connected_at"),
            lastfm_user=doc.get("lastfm_user"),
            listenbrainz_user=doc.get("listenbrainz_user"),
            live=doc.get("live") or {},
        )

    def live_error(self, service: str) -> str | None:
        return ((self.live or {}).get(service) or {}).get("last_error")

    def live_pull_at(self, service: str) -> datetime | None:
        return ((self.live or {}).get(service) or {}).get("last_pull_at")

    @property
    def problems(self) -> str:
        """Every standing problem (Spotify's, then each live service's), one line for `status`."""
        parts = [self.last_error] if self.last_error else []
        parts += [f"{SERVICE_LABELS[s]}: {self.live_error(s)}" for s in LIVE_SERVICES if self.live_error(s)]
        return "; ".join(parts)

    @property
    def connected(self) -> bool:
        return self.spotify_user_id is not None


def validate_user_id(user_id: str) -> str:
    if not USER_ID_PATTERN.match(user_id or ""):
        raise RegistryError(
            f"{user_id!r} is not a valid user id: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit (for example `alice`)."
        )
    return user_id


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        close = sorted(tz for tz in available_timezones() if name and name.lower() in tz.lower())[:5]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise RegistryError(
            f"Unknown time zone {name!r}: give an IANA name such as Europe/Berlin or America/New_York.{hint}"
        ) from exc
    return name


class Registry:
    def __init__(self, url: str, database: str, secret_key: str, *, timeout_ms: int = 5000) -> None:
        self._client: MongoClient[dict[str, Any]] = MongoClient(
            url, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, appname="tracktracker"
        )
        self._db = self._client[database]
        self._fernet = Fernet(secret_key.encode())
        self.users = self._db["users"]
        self.tokens = self._db["spotify_tokens"]
        self.sessions = self._db["oauth_sessions"]

    def close(self) -> None:
        _close(self._client)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_indexes(self) -> None:
        self.users.create_index([("user_id", ASCENDING)], unique=True, name="user_id_unique")
        self.users.create_index([("spotify_user_id", ASCENDING)], name="spotify_user_id")
        self.tokens.create_index([("user_id", ASCENDING)], unique=True, name="user_id_unique")
        self.sessions.create_index([("state", ASCENDING)], unique=True, name="state_unique")
        self.sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl")

    def ping(self) -> bool:
        self._client.admin.command("ping")
        return True

    # ---- users --------------------------------------------------------------------------------
    def add_user(self, user_id: str, display_name: str | None = None, timezone: str = "UTC") -> User:
        validate_user_id(user_id)
        validate_timezone(timezone)
        now = datetime.now(UTC)
        doc = {
            "user_id": user_id,
            "display_name": display_name or user_id,
            "timezone": timezone,
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        try:
            self.users.insert_one(doc)
        except DuplicateKeyError as exc:
            raise RegistryError(
                f"User {user_id!r} already exists. Use `tracktracker users list` to see users."
            ) from exc
        return User.from_doc(doc)

    def upsert_user(self, user_id: str, display_name: str | None = None, timezone: str | None = None) -> User:
        """Create the user, or update name/time zone of an existing one (idempotent, for the demo)."""
        validate_user_id(user_id)
        changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if display_name:
            changes["display_name"] = display_name
        if timezone:
            changes["timezone"] = validate_timezone(timezone)
        doc = self.users.find_one_and_update(
            {"user_id": user_id},
            {
                "$set": changes,
                "$setOnInsert": {
                    "user_id": user_id,
                    "status": "active",
                    "created_at": datetime.now(UTC),
                    **({} if display_name else {"display_name": user_id}),
                    **({} if timezone else {"timezone": "UTC"}),
                },
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return User.from_doc(doc)

    def change_user(
        self, user_id: str, display_name: str | None = None, timezone: str | None = None
    ) -> tuple[User, User]:
        """A listener's display name or time zone, changed: (before, after). Unknown users are refused."""
        if not display_name and not timezone:
            raise RegistryError("Nothing to change: give --name or --timezone (or both).")
        changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if display_name:
            changes["display_name"] = display_name
        if timezone:
            changes["timezone"] = validate_timezone(timezone)
        before = self.users.find_one_and_update({"user_id": user_id}, {"$set": changes})
        if before is None:
            self.require_user(user_id)  # raises, naming what to do
        return User.from_doc(before), User.from_doc({**before, **changes})

    def get_user(self, user_id: str) -> User | None:
        doc = self.users.find_one({"user_id": user_id})
        return User.from_doc(doc) if doc else None

    def require_user(self, user_id: str) -> User:
        user = self.get_user(user_id)
        if user is None:
            raise RegistryError(
                f"Unknown user {user_id!r}. Add them first: `tracktracker users add {user_id} "
                "--timezone Europe/Berlin`."
            )
        return user

    def list_users(self, status: str | None = None) -> list[User]:
        query = {"status": status} if status else {}
        return [User.from_doc(doc) for doc in self.users.find(query).sort("user_id", ASCENDING)]

    def user_ids(self) -> list[str]:
        return [doc["user_id"] for doc in self.users.find({}, {"user_id": 1}).sort("user_id", ASCENDING)]

    def set_status(self, user_id: str, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise RegistryError(f"Unknown status {status!r}; expected one of {', '.join(STATUSES)}.")
        self.users.update_one(
            {"user_id": user_id},
            {"$set": {"status": status, "last_error": error, "updated_at": datetime.now(UTC)}},
        )

    def record_pull(self, user_id: str, at: datetime) -> None:
        self.users.update_one({"user_id": user_id}, {"$set": {"last_pull_at": at, "last_error": None}})

    def record_pull_problem(self, user_id: str, problem: str) -> None:
        """A pull that did not load (status unchanged: the next pull tries again; a good one clears it)."""
        self.users.update_one({"user_id": user_id}, {"$set": {"last_error": problem}})

    def remove_user(self, user_id: str) -> bool:
        """Delete the user, their tokens and their sign-in sessions."""
        deleted = self.users.delete_one({"user_id": user_id}).deleted_count
        self.tokens.delete_many({"user_id": user_id})
        self.sessions.delete_many({"user_id": user_id})
        return bool(deleted)

    # ---- Spotify tokens -----------------------------------------------------------------------
    def save_token(
        self,
        user_id: str,
        token_info: dict[str, Any],
        spotify_user_id: str | None = None,
        *,
        create: bool = True,
    ) -> None:
        """Store a token. create=False (a pull refreshing its access token) only replaces a stored one: a
        listener disconnected while their pull was running does not get the consent back."""
        blob = self._fernet.encrypt(json.dumps(token_info).encode()).decode()
        self.tokens.update_one(
            {"user_id": user_id},
            {"$set": {"user_id": user_id, "token": blob, "updated_at": datetime.now(UTC)}},
            upsert=create,
        )
        if spotify_user_id is not None:  # a new consent, not a token refresh
            self.users.update_one(
                {"user_id": user_id},
                {
                    "$set": {
                        "spotify_user_id": spotify_user_id,
                        "status": "active",
                        "last_error": None,
                        "connected_at": datetime.now(UTC),
                    }
                },
            )

    def load_token(self, user_id: str) -> dict[str, Any] | None:
        doc = self.tokens.find_one({"user_id": user_id})
        if not doc:
            return None
        try:
            return json.loads(self._fernet.decrypt(doc["token"].encode()))
        except InvalidToken as exc:
            raise RegistryError(
                f"The stored Spotify token of {user_id!r} cannot be decrypted with the current "
                "TRACKTRACKER_SECRET_KEY; reconnect with `tracktracker users connect "
                f"{user_id}`."
            ) from exc

    def delete_token(self, user_id: str) -> None:
        self.tokens.delete_one({"user_id": user_id})

    def disconnect(self, user_id: str, service: str) -> str | None:
        """Stop pulling this listener from a service (`spotify`, `lastfm` or `listenbrainz`): what is kept
        to reach their account there (Spotify's consent and tokens, a username, the ListenBrainz token)
        is deleted. Plays already loaded stay. Returns the account it named, None if none was connected."""
        user = self.require_user(user_id)
        if service not in SERVICES:
            raise RegistryError(
                f"TrackTracker pulls nothing from {service!r}: give one of {', '.join(SERVICES)} (the other "
                "services' plays come from their export files; nothing of theirs is connected)."
            )
        now = datetime.now(UTC)
        if service == "spotify":
            self.delete_token(user_id)
            changes: dict[str, Any] = {"spotify_user_id": None, "connected_at": None}
            if user.status != "disabled":  # a disabled listener stays so, with the reason given
                # Spotify's problems end with the account: nothing to reconnect now
                changes.update(status="active", last_error=None)
            self.users.update_one({"user_id": user_id}, {"$set": {**changes, "updated_at": now}})
            return user.spotify_user_id
        account_field = LIVE_ACCOUNT_FIELD[service]
        changes = {account_field: None, "updated_at": now}
        if service == "listenbrainz":
            changes["listenbrainz_token"] = None
        self.users.update_one({"user_id": user_id}, {"$set": changes, "$unset": {f"live.{service}": ""}})
        return getattr(user, account_field)

    def connected_users(self) -> Iterator[User]:
        for doc in self.users.find({"spotify_user_id": {"$ne": None}}).sort("user_id", ASCENDING):
            yield User.from_doc(doc)

    # ---- Last.fm and ListenBrainz accounts (pulled live) ---------------------------------------
    def connect_lastfm(self, user_id: str, lastfm_user: str) -> User:
        """Pull this listener's Last.fm scrobbles (a public profile: no consent, only the name)."""
        self.require_user(user_id)
        if not LASTFM_NAME.match(lastfm_user or ""):
            raise RegistryError(
                f"{lastfm_user!r} is not a Last.fm username: 2-15 letters, digits, '_' or '-', starting "
                "with a letter (the name in your profile's address, last.fm/user/NAME)."
            )
        return self._set_live(user_id, "lastfm", {"lastfm_user": lastfm_user})

    def connect_listenbrainz(
        self, user_id: str, listenbrainz_user: str, token: str | None = None, *, keep_token: bool = False
    ) -> User:
        """Pull this listener's ListenBrainz listens; a user token (optional) is kept encrypted. keep_token:
        leave a stored token as it is when the name does not change (the upload page sets names only)."""
        current = self.require_user(user_id)
        if not LISTENBRAINZ_NAME.match(listenbrainz_user or ""):
            raise RegistryError(
                f"{listenbrainz_user!r} is not a ListenBrainz username: give the name in your profile's "
                "address (listenbrainz.org/user/NAME), without '/'."
            )
        changes: dict[str, Any] = {"listenbrainz_user": listenbrainz_user}
        if not (keep_token and token is None and current.listenbrainz_user == listenbrainz_user):
            # a token belongs to its account: another name drops it
            changes["listenbrainz_token"] = self._fernet.encrypt(token.encode()).decode() if token else None
        return self._set_live(user_id, "listenbrainz", changes)

    def _set_live(self, user_id: str, service: str, changes: dict[str, Any]) -> User:
        doc = self.users.find_one_and_update(
            {"user_id": user_id},
            # a new account: the old account's problem no longer applies
            {"$set": {**changes, f"live.{service}.last_error": None, "updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return User.from_doc(doc)

    def listenbrainz_token(self, user_id: str) -> str | None:
        doc = self.users.find_one({"user_id": user_id}, {"listenbrainz_token": 1}) or {}
        blob = doc.get("listenbrainz_token")
        if not blob:
            return None
        try:
            return self._fernet.decrypt(blob.encode()).decode()
        except InvalidToken as exc:
            raise RegistryError(
                f"The stored ListenBrainz token of {user_id!r} cannot be decrypted with the current "
                "TRACKTRACKER_SECRET_KEY; set it again with `tracktracker users connect-listenbrainz "
                f"{user_id} NAME --token-file FILE`."
            ) from exc

    def live_users(self, service: str) -> Iterator[User]:
        """Listeners with an account of this live service (`lastfm` or `listenbrainz`)."""
        field_name = LIVE_ACCOUNT_FIELD[service]
        for doc in self.users.find({field_name: {"$ne": None}}).sort("user_id", ASCENDING):
            yield User.from_doc(doc)

    def record_live_pull(self, user_id: str, service: str, at: datetime) -> None:
        self.users.update_one(
            {"user_id": user_id},
            {"$set": {f"live.{service}.last_pull_at": at, f"live.{service}.last_error": None}},
        )

    def record_live_problem(self, user_id: str, service: str, problem: str) -> None:
        """A live pull that did not load: kept for `status` until a good pull clears it."""
        self.users.update_one({"user_id": user_id}, {"$set": {f"live.{service}.last_error": problem}})

    # ---- OAuth sessions -----------------------------------------------------------------------
    def create_session(self, state: str, user_id: str, code_verifier: str | None, ttl_s: int = 600) -> None:
        now = datetime.now(UTC)
        verifier = self._fernet.encrypt(code_verifier.encode()).decode() if code_verifier else None
        self.sessions.insert_one(
            {
                "state": state,
                "user_id": user_id,
                "code_verifier": verifier,
                "created_at": now,
                "expires_at": now + timedelta(seconds=ttl_s),
            }
        )

    def take_session(self, state: str) -> tuple[str, str | None]:
        """Consume a sign-in session by its state: (user_id, code_verifier). Expired or unknown fails."""
        doc = self.sessions.find_one_and_delete({"state": state})
        if doc is None:
            raise RegistryError("Unknown or already used sign-in state: start `users connect` again.")
        expires_at = doc["expires_at"]
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise RegistryError("This sign-in link has expired: start `users connect` again.")
        verifier = doc.get("code_verifier")
        return doc["user_id"], self._fernet.decrypt(verifier.encode()).decode() if verifier else None


# ---- the server's login (services/mongo.py runs the embedded server and calls these) ---------------
# MongoDB's codes for "who are you?" (AuthenticationFailed) and "not allowed" (Unauthorized)
_LOGIN_REFUSED = {18, 13}


def login_accepted(url: str, database: str, *, timeout_ms: int = 5000) -> bool:
    """Whether the credentials in url log in and may use `database`; False if the server refuses them.
    Raises RegistryError (naming host and port, never the credentials) if the server does not answer."""
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=timeout_ms)
    try:
        client[database].list_collection_names()
    except OperationFailure as exc:
        if exc.code in _LOGIN_REFUSED:
            return False
        raise RegistryError(
            f"The registry server at {_where(client)} failed a login check: "
            f"{(exc.details or {}).get('errmsg', exc)}"
        ) from exc
    except PyMongoError as exc:
        raise RegistryError(
            f"The registry server at {_where(client)} does not answer ({type(exc).__name__})."
        ) from exc
    finally:
        _close(client)
    return True


def provision_login(url: str, user: str, password: str, database: str) -> None:
    """Create `user` (in `admin`) with read-write and admin rights on `database`, or reset its password
    and rights if it exists. url is a server still running without authentication."""
    roles = [{"role": "readWrite", "db": database}, {"role": "dbAdmin", "db": database}]
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        if client.admin.command("usersInfo", user)["users"]:
            client.admin.command("updateUser", user, pwd=password, roles=roles)
        else:
            client.admin.command("createUser", user, pwd=password, roles=roles)
    except PyMongoError as exc:
        raise RegistryError(
            f"Could not provision the login {user!r} on the registry server at {_where(client)} "
            f"({type(exc).__name__})."
        ) from exc
    finally:
        _close(client)


def _close(client: MongoClient[dict[str, Any]]) -> None:
    """Close a client, and let the process exit without waiting for its monitor threads.

    At exit pymongo joins the threads of every client it made; a closed client's threads sleep in
    half-second steps before they see that it is closed, so each command that used the registry
    waited up to half a second once its work was done (0.4 s of `users add`'s 0.86 s). Closing stops
    a client's monitors; their daemon threads then end with the process. Every client here is closed
    when its work is done, so nothing is left for that exit handler to do."""
    client.close()
    shutdown = getattr(pymongo_monitor, "_shutdown_resources", None)  # pymongo's exit handler
    if shutdown is not None:
        atexit.unregister(shutdown)


def _where(client: MongoClient[dict[str, Any]]) -> str:
    return ", ".join(f"{host}:{port}" for host, port in client.topology_description.server_descriptions())
