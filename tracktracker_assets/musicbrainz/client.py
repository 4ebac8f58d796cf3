"""The MusicBrainz web service (ws/2) through musicbrainzngs: one recording lookup per call.

musicbrainzngs keeps its configuration in module globals (host, user agent, format, rate limit) and
its limiter is process-wide, so every client configures it the same way before asking. Answers are
the service's own JSON (set_format("json")), kept as received in bronze; dbt reads them.
"""

from __future__ import annotations

import importlib.metadata
import socket
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import musicbrainzngs

from tracktracker_assets.settings import Settings

# the service allows one request per second per client, timed as they arrive there: musicbrainzngs'
# limiter spaces them by their start here, so a request held up on its way (a busy machine, the
# network) would reach the service within a second of the next one and be refused with a 503. A
# tenth of a second of margin keeps every request within the rule.
REQUEST_INTERVAL_S = 1.1
# a search keeps its best few matches as received; dbt takes the best one when MusicBrainz is sure of it
SEARCH_RESULTS = 3
# recording tags, and the credited artists' tags to fall back on
LOOKUP_INCLUDES = ["artists", "tags"]


class MusicBrainzUnavailable(RuntimeError):
    """MusicBrainz did not answer usefully (down, overloaded, unreachable): try again next run."""


@dataclass(frozen=True)
class Lookup:
    """What is asked: 'mbid:<recording id>', 'isrc:<ISRC>' or 'search:<artist>\\t<title>'.

    The text is built by dbt (gold.dim_track.musicbrainz_lookup) from what the plays and the Spotify
    catalog know of the track, and is the bronze key, so the same question is never asked twice.
    """

    text: str

    @property
    def kind(self) -> str:
        return self.text.split(":", 1)[0]

    @property
    def value(self) -> str:
        return self.text.split(":", 1)[1]


@dataclass(frozen=True)
class Answer:
    status: str  # ok | not_found
    payload: dict[str, Any] | None


def _version() -> str:
    try:
        return importlib.metadata.version("tracktracker")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


class MusicBrainzClient:
    """musicbrainzngs configured from settings. Needs TRACKTRACKER_MUSICBRAINZ_CONTACT: MusicBrainz
    asks every client to name itself and a way to reach its operator in the User-Agent."""

    def __init__(self, settings: Settings) -> None:
        if not settings.musicbrainz_contact:
            raise MusicBrainzUnavailable(
                "TRACKTRACKER_MUSICBRAINZ_CONTACT is not set: MusicBrainz requires a contact URL or e-mail "
                "address in the User-Agent; set it to turn MusicBrainz lookups on"
            )
        parts = urlsplit(settings.musicbrainz_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MusicBrainzUnavailable(
                f"TRACKTRACKER_MUSICBRAINZ_URL={settings.musicbrainz_url!r} is not an http(s) URL; "
                "set it like https://musicbrainz.org"
            )
        self._host = parts.netloc
        self._https = parts.scheme == "https"
        self._contact = settings.musicbrainz_contact
        self._timeout_s = settings.musicbrainz_timeout_s

    def _configure(self) -> None:
        musicbrainzngs.set_useragent("TrackTracker", _version(), self._contact)
        musicbrainzngs.set_hostname(self._host, use_https=self._https)
        musicbrainzngs.set_rate_limit(REQUEST_INTERVAL_S, 1)
        with warnings.catch_warnings():  # "the json format is non-official": it is the service's own
            warnings.simplefilter("ignore")
            musicbrainzngs.set_format("json")

    def fetch(self, lookup: Lookup) -> Answer:
        """One request (musicbrainzngs waits its turn and retries 503s and timeouts itself).

        musicbrainzngs opens its requests without a timeout, so a server that accepts a connection and
        never answers would hold the run for ever: its requests take the process's default timeout,
        set for the call and put back after."""
        self._configure()
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self._timeout_s)
        try:
            return self._fetch(lookup)
        finally:
            socket.setdefaulttimeout(previous)

    def _fetch(self, lookup: Lookup) -> Answer:
        try:
            if lookup.kind == "mbid":
                payload = musicbrainzngs.get_recording_by_id(lookup.value, includes=LOOKUP_INCLUDES)
            elif lookup.kind == "isrc":
                payload = musicbrainzngs.search_recordings(
                    isrc=lookup.value, limit=SEARCH_RESULTS, strict=True
                )
            elif lookup.kind == "search":
                artist, _, title = lookup.value.partition("\t")
                payload = musicbrainzngs.search_recordings(
                    artist=artist, recording=title, limit=SEARCH_RESULTS, strict=True
                )
            else:
                raise ValueError(
                    f"unknown MusicBrainz lookup {lookup.text!r}: expected mbid:, isrc: or search:"
                )
        except musicbrainzngs.ResponseError as exc:
            code = getattr(exc.cause, "code", None)
            if code in (400, 404):  # an id the service does not know or refuses: remember, never ask again
                return Answer("not_found", None)
            raise MusicBrainzUnavailable(f"MusicBrainz answered {code} to {lookup.text!r}") from exc
        except musicbrainzngs.WebServiceError as exc:
            raise MusicBrainzUnavailable(f"MusicBrainz did not answer ({exc})") from exc
        return Answer("ok", payload)
