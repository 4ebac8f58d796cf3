"""`tracktracker users connect ID`: Spotify's consent in a browser, tokens into the registry.

Default: a one-shot listener on the redirect URI (127.0.0.1) receives Spotify's redirect. Headless
(a server without a browser): open the printed URL anywhere, then paste the URL the browser was sent
to (it fails to load on that machine; its address bar still holds the code).
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

from rich.console import Console

from tracktracker_assets.settings import Settings
from tracktracker_assets.spotify.connect import authorization_url, complete_authorization, parse_redirect
from tracktracker_assets.users.registry import RegistryError, User

PAGE = """<!doctype html><meta charset="utf-8"><title>TrackTracker</title>
<body style="font-family: sans-serif; margin: 4em"><h1>{title}</h1><p>{text}</p></body>"""


def _listen(settings: Settings, redirect_uri: str, timeout_s: float) -> User:
    parts = urlsplit(redirect_uri)
    if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise RegistryError(
            f"The redirect URI {redirect_uri} is not a local address with a port, so there is nothing to "
            "listen on: use --headless, or set TRACKTRACKER_SPOTIFY_REDIRECT_URI to http://127.0.0.1:PORT/callback."
        )
    outcome: dict[str, object] = {}

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urlsplit(self.path).path != parts.path:
                self.send_error(404)
                return
            state, code, error = parse_redirect(self.path)
            try:
                outcome["user"] = complete_authorization(settings, state, code, error, redirect_uri)
                title, text = "Spotify connected", "You can close this tab and return to the terminal."
            except RegistryError as exc:
                outcome["error"] = exc
                title, text = "Spotify not connected", str(exc)
            body = PAGE.format(title=title, text=text).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # the query holds the code: never log it
            pass

    try:
        server = HTTPServer((parts.hostname, parts.port), Callback)
    except OSError as exc:
        raise RegistryError(
            f"Cannot listen on {parts.hostname}:{parts.port} ({exc}); use --headless."
        ) from None
    server.timeout = 0.5
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    try:
        while not outcome and not deadline.is_set():
            server.handle_request()
    finally:
        timer.cancel()
        server.server_close()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    if "user" not in outcome:
        raise RegistryError(f"No answer from Spotify within {timeout_s:.0f} s: run `users connect` again.")
    return outcome["user"]  # type: ignore[return-value]


def connect_user(
    settings: Settings,
    console: Console,
    user_id: str,
    *,
    headless: bool,
    open_browser: bool,
    timeout_s: float = 300,
    prompt: Callable[[str], str] = input,
) -> User:
    redirect_uri = settings.spotify_redirect_uri
    url = authorization_url(settings, user_id, redirect_uri)
    if headless:
        console.print("Open this address in a browser, log in to Spotify and accept:")
        console.print(url, soft_wrap=True)
        console.print("Then paste here the full address your browser was sent to (it may fail to load).")
        state, code, error = parse_redirect(prompt("Address: "))
        return complete_authorization(settings, state, code, error, redirect_uri)
    console.print("Waiting for Spotify's answer. If no browser opens, visit:")
    console.print(url, soft_wrap=True)
    if open_browser:
        webbrowser.open(url)
    return _listen(settings, redirect_uri, timeout_s)
