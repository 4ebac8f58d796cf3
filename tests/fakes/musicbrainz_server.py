"""A fake MusicBrainz web service (ws/2, JSON) on 127.0.0.1, for tests, driven through musicbrainzngs.

It answers in the real shapes, built from the real recording lookups in data/real/other-platforms
(metabrainz--recording.json and --recording_multi_artists_1.json, Picard's captures of ws/2):

- GET /ws/2/recording/{mbid}?inc=...&fmt=json: the recording object (id, title, length,
  first-release-date, isrcs, artist-credit with each artist's tags, tags); an unknown MBID is 404
  `{"error": "Not Found", "help": ...}`, a malformed one 400.
- GET /ws/2/recording/?query=...&limit=N&fmt=json: a search, `{"created", "count", "offset",
  "recordings": [... each with "score"]}`; the Lucene query's `isrc:`, `artist:` and `recording:`
  terms are matched (quoted phrases, case-insensitive, as musicbrainzngs' strict search writes them).
- Over the rate: the real service allows one request per second per client and answers 503 to the
  rest (with its error text); so does this one, measured at each connection's arrival against a pace
  of one served request a second (a GCRA: a request may arrive up to JITTER_S early against that
  pace, as one held up on its way by a busy machine arrives closer to the next, never faster on
  average).
- A User-Agent is required (the real service refuses anonymous clients with 403).

Tests add recordings, can force 503 answers (an outage), and read a log of the requests with their
arrival times.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.conftest import REAL_DATA

RECORDING = REAL_DATA / "other-platforms" / "metabrainz--recording.json"
HELP = "For usage, please see: https://musicbrainz.org/development/mmd"
RATE_ERROR = (
    "Your requests are exceeding the allowable rate limit. Please see "
    "https://wiki.musicbrainz.org/MusicBrainz_API/Rate_Limiting for more information."
)
MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TERM = re.compile(r'(\w+):"((?:[^"\\]|\\.)*)"')


@dataclass
class Request:
    path: str
    query: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int = 0
    user_agent: str | None = None


def recording(
    mbid: str,
    title: str,
    artist: str,
    *,
    first_release_date: str | None,
    tags: dict[str, int] | None = None,
    artist_tags: dict[str, int] | None = None,
    isrcs: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A recording in the real lookup's shape: the real sample with its identity and details replaced."""
    item = copy.deepcopy(json.loads(RECORDING.read_text()))
    item.update(id=mbid, title=title, isrcs=list(isrcs), relations=[], aliases=[])
    if first_release_date is None:
        item.pop("first-release-date", None)  # the real service leaves it out for unreleased recordings
    else:
        item["first-release-date"] = first_release_date
    item["tags"] = [{"name": name, "count": count} for name, count in (tags or {}).items()]
    credit = item["artist-credit"][0]
    credit["name"] = credit["artist"]["name"] = credit["artist"]["sort-name"] = artist
    digest = hashlib.md5(artist.encode()).hexdigest()
    credit["artist"]["id"] = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
    credit["artist"]["disambiguation"] = ""
    credit["artist"]["tags"] = [{"name": name, "count": count} for name, count in (artist_tags or {}).items()]
    return item


# how early against the one-a-second pace a request may arrive: the client's own pacing is measured by
# when it sends, this fake's by when a request reaches it, and a 2-core machine running the suite
# held a request up by ~0.2 s on its way
JITTER_S = 0.3


class FakeMusicBrainz:
    def __init__(self, interval_s: float = 1.0) -> None:
        self.recordings: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.interval_s = interval_s
        self.unavailable = 0  # the next N requests answer 503 (an outage or overload)
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._next_due: float | None = None  # when the pace allows the next request
        self._server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        """host:port, as musicbrainzngs.set_hostname takes it."""
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def add(self, item: dict[str, Any]) -> dict[str, Any]:
        self.recordings[item["id"]] = item
        return item

    def served(self) -> list[Request]:
        return [r for r in self.requests if r.status != 503]

    def answer(
        self, path: str, query: dict[str, str], user_agent: str | None, at: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        """at: when the request's connection arrived (time.monotonic(); default now)."""
        now = time.monotonic() if at is None else at
        request = Request(path, query, now, user_agent=user_agent)
        with self._lock:
            self.requests.append(request)
            too_soon = self._next_due is not None and now < self._next_due - JITTER_S
            if self.unavailable > 0 or too_soon:
                self.unavailable = max(0, self.unavailable - 1)
                request.status = 503
                return 503, {"error": RATE_ERROR, "help": HELP}
            self._next_due = max(self._next_due or now, now) + self.interval_s
        request.status, body = self._lookup(path, query, user_agent)
        return request.status, body

    def _lookup(self, path: str, query: dict[str, str], user_agent: str | None) -> tuple[int, dict[str, Any]]:
        if not user_agent or user_agent.startswith("Python-urllib"):
            return 403, {"error": "Please provide a meaningful User-Agent.", "help": HELP}
        if query.get("fmt") != "json":
            return 400, {"error": "this fake answers JSON only (fmt=json)", "help": HELP}
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] != ["ws", "2"] or len(parts) < 3 or parts[2] != "recording":
            return 404, {"error": "Not Found", "help": HELP}
        if len(parts) == 4 and parts[3]:
            mbid = parts[3]
            if not MBID.match(mbid):
                return 400, {"error": "Invalid mbid.", "help": HELP}
            if mbid not in self.recordings:
                return 404, {"error": "Not Found", "help": HELP}
            return 200, copy.deepcopy(self.recordings[mbid])
        return 200, self._search(query)

    def _search(self, query: dict[str, str]) -> dict[str, Any]:
        terms = {
            field: re.sub(r"\\(.)", r"\1", value).lower() for field, value in TERM.findall(query["query"])
        }
        found = []
        for item in self.recordings.values():
            artist = " ".join(c["name"] for c in item["artist-credit"]).lower()
            if "isrc" in terms and terms["isrc"] not in [i.lower() for i in item.get("isrcs", [])]:
                continue
            if "artist" in terms and terms["artist"] != artist:
                continue
            if "recording" in terms and terms["recording"] != item["title"].lower():
                continue
            hit = copy.deepcopy(item)
            hit.pop("relations", None)
            hit.pop("aliases", None)
            found.append({"score": 100, **hit})
        limit = int(query.get("limit", "25"))
        offset = int(query.get("offset", "0"))
        return {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "count": len(found),
            "offset": offset,
            "recordings": found[offset : offset + limit],
        }

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                at = arrivals.pop(self.client_address, None)
                try:
                    status, body = fake.answer(
                        parts.path, dict(parse_qsl(parts.query)), self.headers.get("User-Agent"), at
                    )
                except Exception as exc:  # a bug in the fake: seen by the test
                    fake.internal_errors.append(repr(exc))
                    status, body = 500, {"error": "Internal server error", "help": HELP}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        # each connection's arrival, taken as it is accepted (its handler thread starts later)
        arrivals: dict[Any, float] = {}

        class Server(ThreadingHTTPServer):
            def process_request(self, request: Any, client_address: Any) -> None:
                arrivals[client_address] = time.monotonic()
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
