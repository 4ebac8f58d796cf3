"""What went wrong talking to Spotify, as one short line a listener (or an operator) can act on.

Spotify's answers end up in pull logs, the registry's last_error, run metadata and the CLI's output, so
whatever came back (an HTML error page, a body cut off mid-transfer, a message with newlines or pipes,
a urllib3 exception naming a connection pool) is reduced here to a single bounded line, with anything
shaped like a token blanked out.
"""

from __future__ import annotations

import html
import re

import requests
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from urllib3.exceptions import MaxRetryError, ProtocolError

MESSAGE_LIMIT = 300

ACCOUNTS = "Spotify's accounts service"
WEB_API = "Spotify's Web API"

_TAGS = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
# access and refresh tokens are long runs of base64url characters; ids and words are far shorter
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-]{48,}")
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*")


def one_line(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """Any text as one line of at most ``limit`` characters: markup dropped, whitespace collapsed."""
    value = str(text if text is not None else "")
    if "<" in value and ">" in value:
        title = _TITLE.search(value)
        body = html.unescape(_TAGS.sub(" ", value))
        value = f"{html.unescape(title.group(1))}: {body}" if title else body
    value = _TOKEN_LIKE.sub("[redacted]", value)
    value = " ".join(value.split())  # newlines, tabs, runs of spaces
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def web_api_message(exc: SpotifyException) -> str:
    """spotipy's message is "<url>:\\n <Spotify's message>"; the URL says nothing to a listener."""
    text = str(exc.msg or "")
    _, sep, rest = text.partition(":\n")
    detail = one_line(rest if sep else text, 200)
    return f"{WEB_API} answered {exc.http_status}" + (f": {detail}" if detail else "")


def oauth_message(exc: SpotifyOauthError) -> str:
    error = one_line(exc.error or "", 120) if exc.error is not None else ""
    description = one_line(exc.error_description or "", 160)
    detail = ": ".join(part for part in (error, description) if part) or one_line(str(exc), 200)
    return f"{ACCOUNTS} did not refresh the access token ({detail})"


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost reason inside requests' and urllib3's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        elif isinstance(exc, ProtocolError) and len(exc.args) > 1 and isinstance(exc.args[1], BaseException):
            exc = exc.args[1]
        elif (
            isinstance(exc, requests.RequestException) and exc.args and isinstance(exc.args[0], BaseException)
        ):
            exc = exc.args[0]
        else:
            break
    return exc


def transport_message(exc: BaseException, service: str, timeout_s: float) -> str:
    """A fault below HTTP statuses (timeouts, connections, unreadable bodies), or an answer whose shape
    the client could not handle."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect to {service} within {timeout_s:g} s (TRACKTRACKER_SPOTIFY_TIMEOUT_S)"
    if isinstance(exc, requests.Timeout) or "timed out" in str(_root_cause(exc)).lower():
        return f"{service} did not answer within {timeout_s:g} s (TRACKTRACKER_SPOTIFY_TIMEOUT_S)"
    if isinstance(exc, requests.JSONDecodeError):
        return f"{service} answered with a body that is not JSON (empty, truncated or an error page)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return f"{service}'s answer was cut off or unreadable ({one_line(_reason(exc), 160)})"
    if isinstance(exc, requests.RequestException):
        return f"could not reach {service} ({one_line(_reason(exc), 200)})"
    return f"{service} answered in an unexpected shape ({type(exc).__name__}: {one_line(exc, 160)})"


def _reason(exc: BaseException) -> str:
    root = _root_cause(exc)
    text = _OBJECT_REPR.sub("", str(root))
    return f"{type(root).__name__}: {text}" if text else type(root).__name__
