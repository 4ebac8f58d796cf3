"""Answers that are not the services' JSON, and services that do not answer, without a database: each
becomes one line naming the service and what to do, never an exception out of the pull."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tracktracker_assets.lastfm import pull as lastfm_pull
from tracktracker_assets.listenbrainz import pull as listenbrainz_pull
from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.livepulls import LiveFault

BAD_GATEWAY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>\n</body></html>"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def error_page() -> Iterator[str]:
    """A server that answers every request with an HTML 502 page, as a proxy in front of an API does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(BAD_GATEWAY)))
            self.end_headers()
            self.wfile.write(BAD_GATEWAY)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def settings_for(url: str) -> Settings:
    base = Settings.from_env()
    return replace(
        base,
        lastfm_api_key="k" * 32,
        lastfm_api_url=url + "/2.0/",
        listenbrainz_api_url=url,
        live_timeout_s=2,
    )


def test_nobody_answering() -> None:
    settings = settings_for(f"http://127.0.0.1:{closed_port()}")
    with requests.Session() as http:
        with pytest.raises(LiveFault, match=r"could not reach Last\.fm") as lastfm:
            lastfm_pull.fetch(settings, http, "Someone", None)
        with pytest.raises(LiveFault, match="could not reach ListenBrainz") as listenbrainz:
            listenbrainz_pull.fetch(settings, http, "someone", None, None)
    for fault in (lastfm.value, listenbrainz.value):
        assert fault.status == "failed" and "\n" not in fault.message


def test_an_html_error_page(error_page: str) -> None:
    settings = settings_for(error_page)
    with requests.Session() as http:
        with pytest.raises(LiveFault) as lastfm:
            lastfm_pull.fetch(settings, http, "Someone", None)
        with pytest.raises(LiveFault) as listenbrainz:
            listenbrainz_pull.fetch(settings, http, "someone", None, None)
    assert lastfm.value.message.startswith("Last.fm answered in an unexpected shape")
    assert "HTTP 502" in lastfm.value.message and "<" not in lastfm.value.message
    assert listenbrainz.value.message.startswith("ListenBrainz answered 502")
    assert "Bad Gateway" in listenbrainz.value.message and "<" not in listenbrainz.value.message


def test_last_fm_without_an_api_key() -> None:
    settings = replace(settings_for("http://127.0.0.1:9"), lastfm_api_key=None)
    with requests.Session() as http, pytest.raises(LiveFault, match="TRACKTRACKER_LASTFM_API_KEY"):
        lastfm_pull.fetch(settings, http, "Someone", None)
