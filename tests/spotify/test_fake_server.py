"""The fake Spotify service, checked against the OpenAPI description and driven through real spotipy."""

from __future__ import annotations

import copy
import gc
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import spotipy
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth, SpotifyOauthError, SpotifyPKCE
from spotipy.util import normalize_scope
from urllib3.util.retry import Retry

from tests.fakes.spotify_catalog import (
    REMOVED_TRACK_FIELDS,
    SPOTIFY_ID_RE,
    Catalog,
    format_played_at,
)
from tests.fakes.spotify_server import FakeSpotify, FakeUser

REFERENCE = Path("/work/shared/reference/spotify-api")
OPENAPI_FILE = REFERENCE / "sonallux__spotify-web-api__fixed-spotify-open-api.yml"
SCOPE = "user-read-recently-played user-read-private user-read-email"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
END = datetime(2026, 6, 9, 9, 3, 25, 674_000, tzinfo=UTC)
PLAYED_AT_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"

# The accounts service is not part of the Web API description: RFC 6749 5.1/5.2 plus Spotify's fields.
TOKEN_SCHEMA = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "minimum": 1},
        "refresh_token": {"type": "string", "minLength": 1},
        "scope": {"type": "string"},
    },
    "additionalProperties": False,
}
OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "additionalProperties": False,
}


# ----- OpenAPI validation -----------------------------------------------------------------------------
class OpenApi:
    """Validates bodies against the operations of the OpenAPI description (3.0 -> JSON Schema draft 7).

    Two adaptations, both for documented reality rather than convenience:
    - properties marked ``deprecated`` are not required: Spotify removed them for development-mode apps
      in February 2026 (the description still lists e.g. ``available_markets`` as required);
    - ``PlayHistoryObject.context`` and the cursor page's ``next``/``cursors`` may be null, as the
      reference documentation says and real responses show.
    """

    URN = "urn:spotify-openapi"
    UNDECLARED = {400: "BadRequest", 404: "NotFound"}  # statuses the operations do not list

    def __init__(self, path: Path) -> None:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.schemas = document["components"]["schemas"]
        _make_nullable(self.schemas["PlayHistoryObject"]["properties"], "context")
        _make_nullable(self.schemas["CursorPagingObject"]["properties"], "next", "cursors")
        self.document = _to_json_schema(document, self.schemas)
        resource = Resource(contents=self.document, specification=DRAFT7)
        self.registry = Registry().with_resource(self.URN, resource)

    def validate(self, api_path: str, status: int, body: Any) -> None:
        responses = self.document["paths"][api_path]["get"]["responses"]
        if str(status) in responses:
            pointer = responses[str(status)]["$ref"]
        else:  # 5xx share the error shape of BadRequest
            pointer = f"#/components/responses/{self.UNDECLARED.get(status, 'BadRequest')}"
        self.validator(f"{pointer}/content/application~1json/schema").validate(body)

    def validator(self, pointer: str) -> Draft7Validator:
        return Draft7Validator({"$ref": f"{self.URN}{pointer}"}, registry=self.registry)


def _make_nullable(properties: dict[str, Any], *names: str) -> None:
    for name in names:
        properties[name] = {"nullable": True, "allOf": properties[name].get("allOf", [properties[name]])}


def _to_json_schema(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _to_json_schema(v, schemas) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        converted = {"anyOf": [converted, {"type": "null"}]}
    if isinstance(node.get("required"), list):
        deprecated = _deprecated_properties(node, schemas)
        converted["required"] = [name for name in node["required"] if name not in deprecated]
    return converted


def _deprecated_properties(node: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    parts = [node, *node.get("allOf", [])]
    parts = [schemas[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in parts]
    return {
        name
        for part in parts
        for name, prop in part.get("properties", {}).items()
        if isinstance(prop, dict) and prop.get("deprecated")
    }


@pytest.fixture(scope="module")
def openapi() -> OpenApi:
    if not OPENAPI_FILE.exists():
        pytest.skip("the shared Spotify reference folder is not available")
    return OpenApi(OPENAPI_FILE)


# ----- fixtures: a fake per test, clients that are closed, nothing left behind -------------------------
@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Every test must leave no thread and no socket behind."""
    threads_before = set(threading.enumerate())
    sockets_before = _open_tcp()
    yield
    gc.collect()  # exception tracebacks keep client responses (and their sockets) in reference cycles
    deadline = time.monotonic() + 2
    while (set(threading.enumerate()) - threads_before or _open_tcp() - sockets_before) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert set(threading.enumerate()) - threads_before == set()
    assert _open_tcp() - sockets_before == set()


def _open_tcp() -> set[tuple[Any, ...]]:
    return {(c.laddr, c.raddr, c.status) for c in psutil.Process().net_connections(kind="tcp")}


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exit_stack:
        yield exit_stack


@pytest.fixture
def make_fake(stack: ExitStack) -> Callable[..., FakeSpotify]:
    def make(**options: Any) -> FakeSpotify:
        return stack.enter_context(FakeSpotify(**options))

    return make


@pytest.fixture
def fake(make_fake: Callable[..., FakeSpotify]) -> FakeSpotify:
    return make_fake()


@pytest.fixture
def session(stack: ExitStack) -> Callable[[], requests.Session]:
    """Sessions that surface 429 at once and retry 5xx with a short backoff (the project's policy)."""

    def make() -> requests.Session:
        return stack.enter_context(no_429_retry_session())

    return make


def no_429_retry_session() -> requests.Session:
    # urllib3 retries a 429 carrying Retry-After whenever `total` > 0, even when 429 is not in
    # status_forcelist, and sleeps the whole Retry-After (capped at 6 h). respect_retry_after_header=False
    # turns that off; raise_on_status=False lets spotipy report the real 5xx after the last retry.
    retry = Retry(
        total=3,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST", "PUT", "DELETE"}),
        backoff_factor=0.05,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def point_at_fake(auth: Any, fake: FakeSpotify) -> Any:
    """Per instance: spotipy reads self.OAUTH_TOKEN_URL / self.OAUTH_AUTHORIZE_URL, so an instance
    attribute shadows the class constant without touching global state."""
    auth.OAUTH_TOKEN_URL = fake.token_url
    if hasattr(auth, "OAUTH_AUTHORIZE_URL"):
        auth.OAUTH_AUTHORIZE_URL = fake.authorize_url
    return auth


def web_api(fake: FakeSpotify, http: requests.Session, *, auth_manager: Any = None, token: str | None = None):
    client = spotipy.Spotify(auth=token, auth_manager=auth_manager, requests_session=http)
    client.prefix = fake.api_base  # the Web API base; spotipy has no constructor argument for it
    return client


def oauth_manager(fake: FakeSpotify, http: requests.Session, refresh_token: str) -> SpotifyOAuth:
    """How the product holds a user: a stored refresh token, no access token yet."""
    cached = {
        "access_token": "none-yet",
        "token_type": "Bearer",
        "expires_in": 0,
        "expires_at": 0,
        "refresh_token": refresh_token,
        "scope": normalize_scope(SCOPE),
    }
    auth = SpotifyOAuth(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        cache_handler=MemoryCacheHandler(cached),
        requests_session=http,
        open_browser=False,
    )
    return point_at_fake(auth, fake)


def user_client(fake: FakeSpotify, http: requests.Session, user: FakeUser) -> spotipy.Spotify:
    return web_api(fake, http, auth_manager=oauth_manager(fake, http, fake.issue_refresh_token(user)))


def raw_get(fake: FakeSpotify, path: str, token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with requests.Session() as http:
        return http.get(fake.api_base + path, headers=headers, params=params, timeout=5)


def token_post(fake: FakeSpotify, data: dict[str, str], *, basic: bool = True) -> requests.Response:
    auth = (fake.client_id, fake.client_secret) if basic else None
    with requests.Session() as http:
        return http.post(fake.token_url, data=data, auth=auth, timeout=5)


# ----- lifecycle --------------------------------------------------------------------------------------
def test_starts_fast_and_stops_cleanly_with_idle_keep_alive_connections() -> None:
    started = time.perf_counter()
    fake = FakeSpotify().start()
    assert time.perf_counter() - started < 1.0
    port = int(fake.base_url.rsplit(":", 1)[1])
    http = requests.Session()
    assert http.get(fake.api_base + "me", timeout=5).status_code == 401  # leaves a pooled connection
    stopping = time.perf_counter()
    fake.stop()
    assert time.perf_counter() - stopping < 1.0
    http.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    fake.stop()  # idempotent


def test_endpoints_and_urls(fake: FakeSpotify) -> None:
    assert fake.api_base.endswith("/v1/") and fake.api_base.startswith("http://127.0.0.1:")
    assert fake.token_url == fake.base_url + "/api/token"
    assert fake.authorize_url == fake.base_url + "/authorize"
    body = raw_get(fake, "browse/new-releases", fake.issue_access_token()).json()
    assert body == {"error": {"status": 404, "message": "Service not found"}}


# ----- recently played --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ralph-2025-12-31", "chekos-2026-06-09"])
def test_recorded_responses_are_replayed_verbatim(fake: FakeSpotify, openapi: OpenApi, name: str) -> None:
    recorded = fake.catalog.recorded_response(name)
    openapi.validate("/me/player/recently-played", 200, recorded)  # the validator accepts reality
    user = fake.add_user("recorded")
    fake.add_recorded_plays(user, name)
    query = dict(_query(recorded["href"]))
    response = raw_get(fake, "me/player/recently-played", fake.issue_access_token(user), **query)
    body = response.json()
    openapi.validate("/me/player/recently-played", 200, body)
    assert list(body) == ["items", "next", "cursors", "limit", "href"]  # no "total", like the real one
    assert body["items"] == recorded["items"]
    assert body["cursors"] == recorded["cursors"]
    assert body["limit"] == recorded["limit"]
    assert body["next"] == recorded["next"].replace("https://api.spotify.com/v1/", fake.api_base)
    assert body["href"] == recorded["href"].replace("https://api.spotify.com/v1/", fake.api_base)


def _query(url: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl, urlsplit

    return parse_qsl(urlsplit(url).query)


def test_track_objects_have_the_recorded_shape_minus_2026_removals(fake: FakeSpotify) -> None:
    original = json.loads((REFERENCE / "ralph__Spotifly__recently-played.json").read_text(encoding="utf-8"))
    recorded_keys = set(original["items"][0]["track"])
    user = fake.add_user("shape")
    fake.generate_plays(user, 30, end=END)
    body = raw_get(fake, "me/player/recently-played", fake.issue_access_token(user), limit=30).json()
    for item in body["items"]:
        assert set(item) == {"track", "played_at", "context"}
        assert set(item["track"]) == recorded_keys - set(REMOVED_TRACK_FIELDS)
        assert "available_markets" not in item["track"]["album"]
        assert SPOTIFY_ID_RE.match(item["track"]["id"])


def test_default_limit_href_and_parameter_errors(fake: FakeSpotify, openapi: OpenApi) -> None:
    user = fake.add_user("params")
    fake.generate_plays(user, 30, end=END)
    token = fake.issue_access_token(user)
    body = raw_get(fake, "me/player/recently-played", token).json()
    assert (len(body["items"]), body["limit"]) == (20, 20)
    assert body["href"] == fake.api_base + "me/player/recently-played"
    assert body["next"] == f"{fake.api_base}me/player/recently-played?before={body['cursors']['before']}"
    bad = [{"limit": 0}, {"limit": 51}, {"limit": "x"}, {"after": 1, "before": 2}, {"after": "soon"}]
    for params in bad:
        response = raw_get(fake, "me/player/recently-played", token, **params)
        assert response.status_code == 400, params
        openapi.validate("/me/player/recently-played", 400, response.json())


def test_paging_before_and_after_over_120_plays(
    make_fake: Callable[..., FakeSpotify], session: Callable[[], requests.Session], openapi: OpenApi
) -> None:
    fake = make_fake(visible_plays=None)  # lift the real 50-play horizon to page through 120
    user = fake.add_user("pager")
    plays = fake.generate_plays(user, 120, end=END)
    client = user_client(fake, session(), user)
    page = client.current_user_recently_played(limit=50)
    seen: list[dict[str, Any]] = []
    while page["items"]:
        openapi.validate("/me/player/recently-played", 200, page)
        assert page["cursors"] == {"after": _ms(page["items"][0]), "before": _ms(page["items"][-1])}
        seen.extend(page["items"])
        page = client.next(page)
    assert page == {"items": [], "next": None, "cursors": None, "limit": 50, "href": page["href"]}
    assert [i["played_at"] for i in seen] == [format_played_at(p.played_at_ms) for p in plays]
    assert [len(r.query) for r in fake.requests_to("/v1/me/player/recently-played")] == [1, 2, 2, 2]

    newest = int(_ms(seen[0]))
    later = fake.generate_plays(user, 5, end=END + timedelta(hours=1), seed="later")
    polled = client.current_user_recently_played(limit=50, after=newest)
    assert [i["track"]["id"] for i in polled["items"]] == [p.track_id for p in later]
    assert (
        polled["next"] == f"{fake.api_base}me/player/recently-played?after={_ms(polled['items'][0])}&limit=50"
    )
    assert client.next(polled)["items"] == []


def _ms(item: dict[str, Any]) -> str:
    moment = datetime.fromisoformat(item["played_at"].replace("Z", "+00:00"))
    return str(round(moment.timestamp() * 1000))


def test_only_the_last_50_plays_are_reachable_by_default(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("horizon")
    plays = fake.generate_plays(user, 120, end=END)
    client = user_client(fake, session(), user)
    first = client.current_user_recently_played(limit=50)
    assert len(first["items"]) == 50 and first["next"]
    assert client.next(first) == {
        "items": [],
        "next": None,
        "cursors": None,
        "limit": 50,
        "href": first["next"],
    }
    older = client.current_user_recently_played(limit=10, before=plays[60].played_at_ms)
    assert older["items"] == []


def test_generated_plays_are_spaced_by_the_newer_tracks_duration(fake: FakeSpotify, openapi: OpenApi) -> None:
    user = fake.add_user("spacing")
    plays = fake.generate_plays(user, 50, end=END, gap_ms=0)
    for newer, older in itertools.pairwise(plays):
        duration = fake.catalog.track(newer.track_id)["duration_ms"]
        assert newer.played_at_ms - older.played_at_ms == duration
    body = raw_get(fake, "me/player/recently-played", fake.issue_access_token(user), limit=50).json()
    openapi.validate("/me/player/recently-played", 200, body)
    assert all(re.match(PLAYED_AT_RE, item["played_at"]) for item in body["items"])
    contexts = {(item["context"] or {}).get("type") for item in body["items"]}
    assert contexts <= {"album", "playlist", None} and len(contexts) > 1


def test_add_plays_accepts_ids_track_objects_and_contexts(fake: FakeSpotify) -> None:
    user = fake.add_user("scripted")
    track = copy.deepcopy(fake.catalog.recorded_response("ralph-2025-12-31")["items"][0]["track"])
    track |= {"id": "0" * 22, "popularity": 12, "available_markets": ["US"]}
    context = {"type": "playlist", "uri": "spotify:playlist:x", "href": "h", "external_urls": {}}
    fake.add_plays(user, [(track, END), ("3G3GZnfjmypPEdkItAofp8", END - timedelta(minutes=5), context)])
    items = raw_get(fake, "me/player/recently-played", fake.issue_access_token(user)).json()["items"]
    assert [i["track"]["id"] for i in items] == ["0" * 22, "3G3GZnfjmypPEdkItAofp8"]
    assert "popularity" not in items[0]["track"] and items[1]["context"] == context
    with pytest.raises(KeyError):
        fake.add_plays(user, [("unknown", END)])
    with pytest.raises(ValueError):
        fake.add_plays(user, [("3G3GZnfjmypPEdkItAofp8", datetime(2026, 1, 1))])  # naive datetime


# ----- profile and catalog ----------------------------------------------------------------------------
def test_me_profile(
    make_fake: Callable[..., FakeSpotify], session: Callable[[], requests.Session], openapi: OpenApi
) -> None:
    fake = make_fake()
    user = fake.add_user("31uexampleuser", display_name="Ada", country="MX")
    me = user_client(fake, session(), user).current_user()
    openapi.validate("/me", 200, me)
    assert (me["id"], me["display_name"], me["uri"]) == (
        "31uexampleuser",
        "Ada",
        "spotify:user:31uexampleuser",
    )
    assert "country" not in me and "product" not in me  # removed for development-mode apps (2026)

    legacy = make_fake(legacy_profile_fields=True)
    old = legacy.add_user("old", country="MX", product="free")
    profile = raw_get(legacy, "me", legacy.issue_access_token(old, scope="user-read-private")).json()
    openapi.validate("/me", 200, profile)
    assert (profile["country"], profile["product"]) == ("MX", "free") and "email" not in profile


def test_catalog_lookups_with_client_credentials(
    fake: FakeSpotify, session: Callable[[], requests.Session], openapi: OpenApi
) -> None:
    auth = SpotifyClientCredentials(
        fake.client_id, fake.client_secret, cache_handler=MemoryCacheHandler(), requests_session=session()
    )
    client = web_api(fake, session(), auth_manager=point_at_fake(auth, fake))
    track = client.track("3G3GZnfjmypPEdkItAofp8")
    openapi.validate("/tracks/{id}", 200, track)
    assert track["name"] == "Jenny Don't Be Hasty" and "popularity" not in track
    album = client.album(track["album"]["id"])
    openapi.validate("/albums/{id}", 200, album)
    assert album["tracks"]["total"] == album["total_tracks"] == len(album["tracks"]["items"])
    assert track["id"] in {t["id"] for t in album["tracks"]["items"]}
    assert {"release_date", "release_date_precision", "album_type", "images", "genres"} <= set(album)
    artist = client.artist(track["artists"][0]["id"])
    openapi.validate("/artists/{id}", 200, artist)
    assert isinstance(artist["genres"], list) and len(artist["images"]) == 3
    assert "followers" not in artist and "popularity" not in artist

    derived = fake.catalog.derived_track_ids(3000)
    assert len(set(derived)) == 3000
    openapi.validate("/tracks/{id}", 200, client.track(derived[-1]))
    assert fake.requests_to("/api/token")[0].form["grant_type"] == "client_credentials"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("tracks/0000000000000000000000", 404, "Resource not found"),
        ("albums/0000000000000000000000", 404, "Resource not found"),
        ("artists/abc", 400, "invalid id"),
        ("tracks/?ids=3G3GZnfjmypPEdkItAofp8,0cHi6cXNHFJtpYDTMUSCWc", 403, "Forbidden"),
        ("albums?ids=6L2FiSnFMisCgbhbag4KTl", 403, "Forbidden"),
    ],
)
def test_catalog_errors(fake: FakeSpotify, openapi: OpenApi, path: str, status: int, message: str) -> None:
    with requests.Session() as http:
        response = http.get(
            fake.api_base + path, headers={"Authorization": f"Bearer {fake.issue_access_token()}"}
        )
    assert response.status_code == status
    assert response.json() == {"error": {"status": status, "message": message}}
    openapi.validate(f"/{path.split('/')[0].split('?')[0]}/{{id}}", status, response.json())


def test_batch_lookup_through_spotipy_is_forbidden(
    fake: FakeSpotify, session: Callable[[], requests.Session]
):
    client = web_api(fake, session(), token=fake.issue_access_token())
    with pytest.raises(spotipy.SpotifyException) as error:
        client.tracks(["3G3GZnfjmypPEdkItAofp8", "0cHi6cXNHFJtpYDTMUSCWc"])
    assert error.value.http_status == 403


# ----- authentication failures on the Web API ---------------------------------------------------------
def test_bearer_token_errors(fake: FakeSpotify, openapi: OpenApi) -> None:
    user = fake.add_user("auth")
    token = fake.issue_access_token(user)
    cases = [
        (None, 401, "No token provided"),
        ("garbage", 401, "Invalid access token"),
        (fake.issue_access_token(), 403, "Insufficient client scope"),  # client credentials on /me/...
        (fake.issue_access_token(user, scope="user-read-private"), 403, "Insufficient client scope"),
    ]
    for bearer, status, message in cases:
        response = raw_get(fake, "me/player/recently-played", bearer)
        assert (response.status_code, response.json()["error"]["message"]) == (status, message)
        openapi.validate("/me/player/recently-played", status, response.json())
    fake.advance_clock(3601)
    expired = raw_get(fake, "me", token)
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}
    openapi.validate("/me", 401, expired.json())
    fake.set_registered(user, False)
    unregistered = raw_get(fake, "me", fake.issue_access_token(user))
    assert (
        unregistered.status_code == 403 and "may not be registered" in unregistered.json()["error"]["message"]
    )


def test_expired_access_token_surfaces_as_401_through_spotipy(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("expiry")
    client = user_client(fake, session(), user)
    client.current_user()  # spotipy refreshes the stored token once and caches the access token
    fake.expire_access_tokens(user)  # spotipy still thinks its token is valid for an hour
    with pytest.raises(spotipy.SpotifyException) as error:
        client.current_user()
    assert error.value.http_status == 401 and error.value.msg.endswith("The access token expired")
    fake.inject_fault("/v1/me", 401, user=user)
    client.auth_manager.refresh_access_token(
        client.auth_manager.cache_handler.get_cached_token()["refresh_token"]
    )
    with pytest.raises(spotipy.SpotifyException) as injected:
        client.current_user()
    assert injected.value.http_status == 401
    assert client.current_user()["id"] == "expiry"


# ----- accounts service -------------------------------------------------------------------------------
def test_refresh_without_rotation_keeps_the_refresh_token(fake: FakeSpotify, openapi: OpenApi) -> None:
    user = fake.add_user("steady")
    refresh_token = fake.issue_refresh_token(user)
    for _ in range(2):
        response = token_post(fake, {"grant_type": "refresh_token", "refresh_token": refresh_token})
        body = response.json()
        Draft7Validator(TOKEN_SCHEMA).validate(body)
        assert "refresh_token" not in body and body["scope"] == SCOPE
        assert raw_get(fake, "me", body["access_token"]).json()["id"] == "steady"


def test_refresh_with_rotation_through_spotipy(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("rotating", rotate_refresh_tokens=True)
    first = fake.issue_refresh_token(user)
    auth = oauth_manager(fake, session(), first)
    client = web_api(fake, session(), auth_manager=auth)
    assert client.current_user()["id"] == "rotating"
    second = auth.cache_handler.get_cached_token()["refresh_token"]
    assert second != first
    with pytest.raises(SpotifyOauthError) as error:
        auth.refresh_access_token(first)
    assert (error.value.error, error.value.error_description) == ("invalid_grant", "Invalid refresh token")
    Draft7Validator(TOKEN_SCHEMA).validate(
        token_post(fake, {"grant_type": "refresh_token", "refresh_token": second}).json()
    )


def test_revoked_and_six_month_old_refresh_tokens_are_invalid_grant(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("revoked")
    auth = oauth_manager(fake, session(), fake.issue_refresh_token(user))
    refresh_token = auth.cache_handler.get_cached_token()["refresh_token"]
    fake.revoke_tokens(user)
    with pytest.raises(SpotifyOauthError) as error:
        auth.refresh_access_token(refresh_token)
    assert (error.value.error, error.value.error_description) == ("invalid_grant", "Invalid refresh token")
    with pytest.raises(SpotifyOauthError):
        web_api(fake, session(), auth_manager=auth).current_user()  # the refresh inside spotipy fails too

    old = fake.issue_refresh_token(user)
    fake.advance_clock(183 * 86_400)
    response = token_post(fake, {"grant_type": "refresh_token", "refresh_token": old})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    Draft7Validator(OAUTH_ERROR_SCHEMA).validate(response.json())


def test_client_authentication_errors(fake: FakeSpotify, session: Callable[[], requests.Session]) -> None:
    wrong = SpotifyClientCredentials(
        fake.client_id, "wrong", cache_handler=MemoryCacheHandler(), requests_session=session()
    )
    with pytest.raises(SpotifyOauthError) as error:
        point_at_fake(wrong, fake).get_access_token(as_dict=False)
    assert (error.value.error, error.value.error_description) == ("invalid_client", "Invalid client secret")
    with requests.Session() as http:
        unknown = http.post(fake.token_url, data={"grant_type": "client_credentials"}, auth=("nobody", "x"))
        missing = http.post(fake.token_url, data={}, auth=(fake.client_id, fake.client_secret))
    assert unknown.json() == {"error": "invalid_client", "error_description": "Invalid client"}
    assert missing.json()["error"] == "unsupported_grant_type"
    for response in (unknown, missing):
        assert response.status_code == 400
        Draft7Validator(OAUTH_ERROR_SCHEMA).validate(response.json())


def test_authorization_code_flow_with_pkce(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("pkce-user")
    fake.generate_plays(user, 10, end=END)
    http = session()
    auth = SpotifyPKCE(
        client_id=fake.client_id,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        cache_handler=MemoryCacheHandler(),
        requests_session=http,
        open_browser=False,
    )
    point_at_fake(auth, fake)
    fake.approve_next_login(user)
    consent = http.get(auth.get_authorize_url(state="s1"), allow_redirects=False)
    assert consent.status_code == 302 and consent.headers["Location"].startswith(REDIRECT_URI + "?code=")
    state, code = auth.parse_auth_response_url(consent.headers["Location"])
    assert state == "s1"
    auth.get_access_token(code, check_cache=False)
    client = web_api(fake, session(), auth_manager=auth)
    assert client.current_user()["id"] == "pkce-user"
    assert len(client.current_user_recently_played()["items"]) == 10
    refresh_token = auth.cache_handler.get_cached_token()["refresh_token"]
    assert auth.refresh_access_token(refresh_token)["access_token"]  # PKCE refresh: client_id, no secret
    with pytest.raises(SpotifyOauthError) as reused:
        auth.get_access_token(code, check_cache=False)
    assert reused.value.error_description == "Invalid authorization code"

    fake.approve_next_login(user)
    other = http.get(auth.get_authorize_url(), allow_redirects=False).headers["Location"]
    auth.code_verifier = "a-different-verifier-than-the-challenge-was-made-from-0123456789"
    with pytest.raises(SpotifyOauthError) as wrong:
        auth.get_access_token(auth.parse_response_code(other), check_cache=False)
    assert (wrong.value.error, wrong.value.error_description) == (
        "invalid_grant",
        "code_verifier was incorrect",
    )


def test_authorization_code_flow_with_secret_denial_and_waiting(
    make_fake: Callable[..., FakeSpotify], session: Callable[[], requests.Session]
) -> None:
    fake = make_fake(redirect_uris=[REDIRECT_URI])
    user = fake.add_user("confidential")
    http = session()
    auth = oauth_manager(fake, http, "unused")
    assert http.get(auth.get_authorize_url(), allow_redirects=False).status_code == 200  # login page waits
    fake.approve_next_login(user)
    location = http.get(auth.get_authorize_url(state="s2"), allow_redirects=False).headers["Location"]
    access_token = auth.get_access_token(auth.parse_response_code(location), as_dict=False, check_cache=False)
    token_info = auth.cache_handler.get_cached_token()  # the token response plus spotipy's expires_at
    Draft7Validator(TOKEN_SCHEMA).validate({k: v for k, v in token_info.items() if k != "expires_at"})
    assert "refresh_token" in token_info
    assert raw_get(fake, "me", access_token).json()["id"] == "confidential"

    fake.deny_next_login()
    denied = http.get(auth.get_authorize_url(state="s3"), allow_redirects=False).headers["Location"]
    assert denied == f"{REDIRECT_URI}?error=access_denied&state=s3"
    with pytest.raises(SpotifyOauthError) as error:
        auth.parse_auth_response_url(denied)
    assert error.value.error == "access_denied"
    elsewhere = http.get(
        fake.authorize_url, params={"client_id": fake.client_id, "redirect_uri": "http://x/"}
    )
    assert elsewhere.status_code == 400 and "Invalid redirect URI" in elsewhere.text


# ----- rate limits and server errors ------------------------------------------------------------------
def test_429_with_retry_after_reaches_the_caller_at_once(
    fake: FakeSpotify, session: Callable[[], requests.Session], openapi: OpenApi
) -> None:
    user = fake.add_user("limited")
    client = user_client(fake, session(), user)
    client.current_user()
    fake.inject_fault("/v1/me/player/recently-played", 429, user=user, retry_after=3600)
    started = time.perf_counter()
    with pytest.raises(spotipy.SpotifyException) as error:
        client.current_user_recently_played()
    assert time.perf_counter() - started < 1.0
    assert error.value.http_status == 429 and error.value.headers["Retry-After"] == "3600"
    assert len(fake.requests_to("/v1/me/player/recently-played")) == 1
    assert client.current_user_recently_played()["items"] == []  # the fault was used up
    fake.inject_fault("/v1/me", 429, retry_after=7)
    response = raw_get(fake, "me", fake.issue_access_token(user))
    openapi.validate("/me", 429, response.json())


def test_spotipy_defaults_sleep_through_retry_after(fake: FakeSpotify, stack: ExitStack) -> None:
    """The trap this project avoids: spotipy's default session retries 429 after sleeping Retry-After."""
    user = fake.add_user("sleepy")
    fake.inject_fault("/v1/me", 429, retry_after=1)
    client = spotipy.Spotify(auth=fake.issue_access_token(user))
    client.prefix = fake.api_base
    stack.callback(client._session.close)  # spotipy built this session itself
    started = time.perf_counter()
    assert client.current_user()["id"] == "sleepy"
    assert time.perf_counter() - started >= 1.0
    assert [r.status for r in fake.requests_to("/v1/me")] == [429, 200]


def test_spotipy_knobs_alone_mislabel_5xx_as_429(fake: FakeSpotify, stack: ExitStack) -> None:
    """Without a custom session: ``retries=0`` plus a forcelist without 429 surfaces the 429 with its
    Retry-After, but a 5xx then exhausts urllib3 and spotipy reports SpotifyException(429, 'Max Retries')."""
    user = fake.add_user("zero")
    client = spotipy.Spotify(
        auth=fake.issue_access_token(user), retries=0, status_forcelist=(500, 502, 503, 504)
    )
    client.prefix = fake.api_base
    stack.callback(client._session.close)
    fake.inject_fault("/v1/me", 429, retry_after=3600)
    with pytest.raises(spotipy.SpotifyException) as limited:
        client.current_user()
    assert limited.value.headers["Retry-After"] == "3600"
    fake.inject_fault("/v1/me", 503)
    with pytest.raises(spotipy.SpotifyException) as failed:
        client.current_user()
    assert failed.value.http_status == 429 and "Max Retries" in failed.value.msg


def test_5xx_are_retried_then_reported_with_their_status(
    fake: FakeSpotify, session: Callable[[], requests.Session]
) -> None:
    user = fake.add_user("flaky")
    client = web_api(fake, session(), token=fake.issue_access_token(user))
    fake.inject_fault("/v1/me", 503)
    assert client.current_user()["id"] == "flaky"
    fake.inject_fault("/v1/me", 502, times=10)
    with pytest.raises(spotipy.SpotifyException) as error:
        client.current_user()
    assert error.value.http_status == 502
    assert [r.status for r in fake.requests_to("/v1/me")] == [503, 200, 502, 502, 502, 502]


def test_faults_target_one_user(fake: FakeSpotify) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.inject_fault("/v1/me/player/*", 500, user=alice)
    assert raw_get(fake, "me/player/recently-played", fake.issue_access_token(bob)).status_code == 200
    assert raw_get(fake, "me/player/recently-played", fake.issue_access_token(alice)).status_code == 500
    assert raw_get(fake, "me/player/recently-played", fake.issue_access_token(alice)).status_code == 200


def test_faults_can_send_any_body_slowly_cut_off_or_not_at_all(fake: FakeSpotify) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    alice_token, bob_token = fake.issue_access_token(alice), fake.issue_access_token(bob)
    path = "/v1/me/player/recently-played"
    fake.inject_fault(path, 502, user=alice, raw="<html><p>Bad\ngateway</p></html>", content_type="text/html")
    page = raw_get(fake, "me/player/recently-played", alice_token)
    assert (page.status_code, page.headers["Content-Type"], page.text) == (
        502,
        "text/html",
        "<html><p>Bad\ngateway</p></html>",
    )
    fake.inject_fault(path, 503, user=alice, message="two\nlines | and a pipe")
    assert raw_get(fake, "me/player/recently-played", alice_token).json() == {
        "error": {"status": 503, "message": "two\nlines | and a pipe"}
    }
    # a slow answer for alice holds up nobody else, and is the usual answer once it comes
    fake.inject_fault(path, None, user=alice, delay=1.0)
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(raw_get, fake, "me/player/recently-played", alice_token)
        time.sleep(0.1)
        started = time.perf_counter()
        assert raw_get(fake, "me/player/recently-played", bob_token).status_code == 200
        assert time.perf_counter() - started < 0.5
        assert slow.result().json()["items"] == []
    with requests.Session() as http:
        fake.inject_fault(path, None, user=alice, cut_off=True)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            http.get(
                fake.api_base + "me/player/recently-played",
                headers={"Authorization": f"Bearer {alice_token}"},
            )
        fake.inject_fault(path, None, user=alice, drop=True)
        with pytest.raises(requests.ConnectionError, match="without response"):
            http.get(
                fake.api_base + "me/player/recently-played",
                headers={"Authorization": f"Bearer {alice_token}"},
            )
    assert raw_get(fake, "me/player/recently-played", alice_token).status_code == 200  # faults used up


def test_global_rate_limit(make_fake: Callable[..., FakeSpotify]) -> None:
    fake = make_fake(rate_limit_rps=5, rate_limit_retry_after=30)
    token = fake.issue_access_token(fake.add_user("burst"))
    with requests.Session() as http:
        responses = [
            http.get(fake.api_base + "me", headers={"Authorization": f"Bearer {token}"}) for _ in range(8)
        ]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    assert responses[-1].headers["Retry-After"] == "30"


def test_request_log(fake: FakeSpotify, session: Callable[[], requests.Session]) -> None:
    user = fake.add_user("logged")
    client = user_client(fake, session(), user)
    client.current_user_recently_played(limit=7)
    token_call, api_call = fake.requests
    assert (token_call.path, token_call.form["grant_type"], token_call.user) == (
        "/api/token",
        "refresh_token",
        "logged",
    )
    assert (api_call.path, api_call.query, api_call.user, api_call.status) == (
        "/v1/me/player/recently-played",
        {"limit": "7"},
        "logged",
        200,
    )
    assert api_call.client_id == fake.client_id
    fake.clear_requests()
    assert fake.requests == [] and fake.internal_errors == []


# ----- concurrency ------------------------------------------------------------------------------------
def test_200_parallel_requests_with_100ms_latency(make_fake: Callable[..., FakeSpotify]) -> None:
    fake = make_fake(latency=0.1)
    token = fake.issue_access_token(fake.add_user("parallel"))

    def call(_: int) -> int:
        with requests.Session() as http:
            return http.get(fake.api_base + "me", headers={"Authorization": f"Bearer {token}"}).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(call, range(200)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 200
    assert elapsed < 1.5, elapsed


def test_1000_users_pulled_with_bounded_concurrency(make_fake: Callable[..., FakeSpotify]) -> None:
    fake = make_fake(latency=0.01)
    tokens = []
    for index in range(1000):
        user = fake.add_user(f"user{index:04d}")
        fake.generate_plays(user, 5, end=END, seed=f"bulk{index}")
        tokens.append(fake.issue_access_token(user))
    local = threading.local()

    def pull(token: str) -> int:
        if not hasattr(local, "http"):
            local.http = requests.Session()  # one pooled keep-alive connection per worker
            opened.append(local.http)
        headers = {"Authorization": f"Bearer {token}"}
        return len(
            local.http.get(fake.api_base + "me/player/recently-played", headers=headers).json()["items"]
        )

    opened: list[requests.Session] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        counts = list(pool.map(pull, tokens))
    elapsed = time.perf_counter() - started
    for http in opened:
        http.close()
    assert counts == [5] * 1000
    assert elapsed < 5, elapsed


# ----- catalog ----------------------------------------------------------------------------------------
def test_catalog_is_deterministic_and_large() -> None:
    first, second, other = Catalog(), Catalog(), Catalog(seed="other")
    ids = first.derived_track_ids(5000)
    assert ids == second.derived_track_ids(5000)
    assert ids[:10] != other.derived_track_ids(10)
    assert len(set(ids)) == 5000 and all(SPOTIFY_ID_RE.match(i) for i in ids)
    names = {first.track(i)["name"] for i in ids}
    durations = {first.track(i)["duration_ms"] for i in ids}
    assert len(names) > 3500 and len(durations) > 4000
    track = first.track(ids[123])
    assert ids[123] in first.album_track_ids(track["album"]["id"])
    assert first.artist(track["artists"][0]["id"])["name"] == track["artists"][0]["name"]


def test_validator_rejects_broken_payloads(openapi: OpenApi) -> None:
    page = Catalog().recorded_response("ralph-2025-12-31")
    page["items"][0]["played_at"] = 1766326603920
    validator = openapi.validator(
        "#/components/responses/CursorPagedPlayHistory/content/application~1json/schema"
    )
    assert not validator.is_valid(page)
    assert not openapi.validator(
        "#/components/responses/Unauthorized/content/application~1json/schema"
    ).is_valid({"error": {"message": "no status"}})
