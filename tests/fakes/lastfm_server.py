"""A fake Last.fm web service (user.getRecentTracks, format=json) on 127.0.0.1, for tests.

It answers in the real JSON shape (the samples duhnnie--user.getRecentTracks.json and
inflatablefriends--UserGetRecentTracksSingle.json): every number a string, `@attr` paging after the track
list, the now-playing row (no date, `@attr.nowplaying`) on top of page 1, ONE track as an object instead
of a list, `[]` for none, and errors as `{"error": N, "message": ...}` (6 unknown user, 10 bad API key,
17 a profile hiding its listening, 29 rate limit). Tests script users, scrobbles and faults, and read a
log of every request.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

API_KEY = "fake0lastfm0api0key0000000000000"
ERRORS = {
    6: (404, "User not found"),
    10: (403, "Invalid API key - You must be granted a valid key by last.fm"),
    17: (403, "Login: User required to be logged in"),
    29: (429, "Rate Limit Exceeded - Your IP has made too many requests in a short period"),
}


@dataclass
class LastfmUser:
    name: str
    scrobbles: list[dict[str, Any]] = field(default_factory=list)
    now_playing: dict[str, Any] | None = None
    private: bool = False


def dated(template: dict[str, Any], uts: int) -> dict[str, Any]:
    """A copy of a real item, scrobbled at uts (as Last.fm writes the date: strings)."""
    item = copy.deepcopy(template)
    item.pop("@attr", None)
    at = datetime.fromtimestamp(uts, UTC)
    item["date"] = {"uts": str(uts), "#text": at.strftime("%d %b %Y, %H:%M")}
    return item


class FakeLastfm:
    def __init__(self) -> None:
        self.users: dict[str, LastfmUser] = {}
        self.requests: list[dict[str, str]] = []
        self.rate_limited = 0  # the next N requests answer error 29
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- scripting ----------------------------------------------------------------------------
    def add_user(self, name: str, *, private: bool = False) -> LastfmUser:
        user = self.users[name.lower()] = LastfmUser(name, private=private)
        return user

    def scrobble(self, name: str, template: dict[str, Any], uts: int) -> dict[str, Any]:
        item = dated(template, uts)
        self.users[name.lower()].scrobbles.append(item)
        return item

    def set_now_playing(self, name: str, template: dict[str, Any] | None) -> None:
        item = copy.deepcopy(template) if template else None
        if item is not None:
            item.pop("date", None)
            item["@attr"] = {"nowplaying": "true"}
        self.users[name.lower()].now_playing = item

    def recent_requests(self, name: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("user", "").lower() == name.lower()]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/2.0/"

    # ---- answers ------------------------------------------------------------------------------
    def answer(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(query)
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return self._error(29)
        if query.get("api_key") != API_KEY:
            return self._error(10)
        if query.get("method", "").lower() != "user.getrecenttracks":
            return 400, {"error": 3, "message": "Invalid Method - No method with that name in this package"}
        user = self.users.get(query.get("user", "").lower())
        if user is None:
            return self._error(6)
        if user.private:
            return self._error(17)
        limit = min(int(query.get("limit", "50")), 200)
        page = max(1, int(query.get("page", "1")))
        low = int(query.get("from", "0"))
        high = int(query.get("to", str(2**40)))
        matching = sorted(
            (s for s in user.scrobbles if low <= int(s["date"]["uts"]) <= high),
            key=lambda s: -int(s["date"]["uts"]),
        )
        tracks = matching[(page - 1) * limit : page * limit]
        if page == 1 and user.now_playing is not None:
            tracks = [copy.deepcopy(user.now_playing), *tracks]
        attr = {
            "user": user.name,
            "totalPages": str(math.ceil(len(matching) / limit)),
            "page": str(page),
            "perPage": str(limit),
            "total": str(len(matching)),
        }
        body_tracks: Any = tracks[0] if len(tracks) == 1 else tracks  # Last.fm's one-result quirk
        return 200, {"recenttracks": {"track": body_tracks, "@attr": attr}}

    @staticmethod
    def _error(code: int) -> tuple[int, dict[str, Any]]:
        status, message = ERRORS[code]
        return status, {"message": message, "error": code}

    # ---- server -------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, query: dict[str, str]) -> None:
                try:
                    status, body = fake.answer(query)
                except Exception as exc:  # a bug in the fake: seen by the test, not hidden
                    fake.internal_errors.append(repr(exc))
                    status, body = 500, {"error": 8, "message": "Operation failed"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve(dict(parse_qsl(urlsplit(self.path).query)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(dict(parse_qsl(self.rfile.read(length).decode())))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
