"""A fake ListenBrainz API (GET /1/user/{name}/listens) on 127.0.0.1, for tests.

It answers in the real shape (the sample metabrainz--get_listens_happy_path_response.json): `payload`
with count, latest_listen_ts, oldest_listen_ts, user_id and `listens` newest first; `max_ts` and `min_ts`
exclusive, `count` at most 1000 (more is 400, as the real API answers); errors as `{"code", "error"}`:
404 for an unknown user, 401 for a token it does not know, 429 with X-RateLimit-Reset-In. Every answer
carries the X-RateLimit-* headers. Tests script users, listens and rate limits, and read a request log.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_ITEMS_PER_GET = 1000


@dataclass
class LbUser:
    name: str
    listens: list[dict[str, Any]] = field(default_factory=list)


def listened(template: dict[str, Any], ts: int, user: str, n: int) -> dict[str, Any]:
    """A copy of a real listen at ts; its message id made unique per copy (as each real listen's is)."""
    listen = copy.deepcopy(template)
    listen["listened_at"] = ts
    listen["user_name"] = user
    msid = f"{n:08x}-0000-4000-8000-{ts:012x}"
    listen["recording_msid"] = msid
    info = listen.get("track_metadata", {}).get("additional_info")
    if isinstance(info, dict) and "recording_msid" in info:
        info["recording_msid"] = msid
    return listen


class FakeListenBrainz:
    def __init__(self) -> None:
        self.users: dict[str, LbUser] = {}
        self.tokens: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.rate_limited = 0  # the next N requests answer 429
        self.reset_in = 2
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._n = 0

    def add_user(self, name: str) -> LbUser:
        user = self.users[name.lower()] = LbUser(name)
        return user

    def listen(self, name: str, template: dict[str, Any], ts: int) -> dict[str, Any]:
        self._n += 1
        item = listened(template, ts, self.users[name.lower()].name, self._n)
        self.users[name.lower()].listens.append(item)
        return item

    def requests_for(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["user"].lower() == name.lower()]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self, path: str, query: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["1", "user"] or parts[3] != "listens":
            return 404, {"code": 404, "error": "Not found"}
        name = unquote(parts[2])
        with self._lock:
            self.requests.append({"user": name, "query": query, "authorization": authorization})
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 429, {"code": 429, "error": "Too many requests. Please wait and try again."}
        if authorization is not None and authorization.removeprefix("Token ") not in self.tokens:
            return 401, {"code": 401, "error": "Invalid authorization token."}
        user = self.users.get(name.lower())
        if user is None:
            return 404, {"code": 404, "error": f"Cannot find user: {name}"}
        count = int(query.get("count", "25"))
        if count > MAX_ITEMS_PER_GET or count < 0:
            return 400, {"code": 400, "error": f"count should be less than {MAX_ITEMS_PER_GET}"}
        if "max_ts" in query and "min_ts" in query:
            return 400, {"code": 400, "error": "You may only specify max_ts or min_ts, not both."}
        ordered = sorted(user.listens, key=lambda item: -item["listened_at"])
        if "max_ts" in query:
            ordered = [item for item in ordered if item["listened_at"] < int(query["max_ts"])]
            page = ordered[:count]
        elif "min_ts" in query:
            newer = [item for item in ordered if item["listened_at"] > int(query["min_ts"])]
            page = newer[-count:] if count else []
        else:
            page = ordered[:count]
        stamps = [item["listened_at"] for item in user.listens]
        payload = {
            "count": len(page),
            "latest_listen_ts": max(stamps, default=0),
            "oldest_listen_ts": min(stamps, default=0),
            "user_id": user.name,
            "listens": copy.deepcopy(page),
        }
        return 200, {"payload": payload}

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                try:
                    status, body = fake.answer(
                        parts.path, dict(parse_qsl(parts.query)), self.headers.get("Authorization")
                    )
                except Exception as exc:  # a bug in the fake: seen by the test
                    fake.internal_errors.append(repr(exc))
                    status, body = 500, {"code": 500, "error": "Internal server error"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                limited = status == 429
                self.send_header("X-RateLimit-Limit", "30")
                self.send_header("X-RateLimit-Remaining", "0" if limited else "29")
                self.send_header("X-RateLimit-Reset-In", str(fake.reset_in if limited else 10))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
