"""Rendering: the row each extended-history vintage, or account data, holds for a play."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracktracker_assets.synthetic._time import (
    DAY_MS,
    RECENT_MASK_MS,
    VIDEO_NULL_BEFORE_MS,
    VIDEO_OFFLINE_FROM_MS,
    _end_time,
    _ts,
)
from tracktracker_assets.synthetic.catalog import Chapter, Episode, Track
from tracktracker_assets.synthetic.listeners import Device
from tracktracker_assets.synthetic.plays import Play, _platform

_CONTENT_FIELDS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
)
_AUDIOBOOK_FIELDS = ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title")
_TAIL_FIELDS = (
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_timestamp",
    "incognito_mode",
)


@dataclass(frozen=True)
class Vintage:
    """One era of the extended streaming history: which keys, in which order, with which quirks."""

    name: str
    description: str
    decrypted: bool  # username / ip_addr_decrypted / user_agent_decrypted instead of ip_addr
    audiobooks: bool
    offline_ts_divisor: int  # 1: offline_timestamp in ms; 1000: in seconds
    naming: str  # endsong | range | yearly
    disorder: str  # blocks: heavily shuffled files; displace: a few rows out of place
    zip_folder: str

    @property
    def fields(self) -> tuple[str, ...]:
        head = (
            (
                "ts",
                "username",
                "platform",
                "ms_played",
                "conn_country",
                "ip_addr_decrypted",
                "user_agent_decrypted",
            )
            if self.decrypted
            else ("ts", "platform", "ms_played", "conn_country", "ip_addr")
        )
        middle = _CONTENT_FIELDS + (_AUDIOBOOK_FIELDS if self.audiobooks else ())
        return head + middle + _TAIL_FIELDS


VINTAGES: dict[str, Vintage] = {
    "endsong": Vintage(
        "endsong", "endsong_N.json, 2021-2022 exports", True, False, 1, "endsong", "blocks", "MyData"
    ),
    "audio2024": Vintage(
        "audio2024",
        "Streaming_History_Audio_*, May-2024 exports",
        True,
        False,
        1000,
        "range",
        "displace",
        "Spotify Extended Streaming History",
    ),
    "late2024": Vintage(
        "late2024",
        "Streaming_History_Audio_*, late-2024 exports (ip_addr only)",
        False,
        False,
        1000,
        "range",
        "displace",
        "Spotify Extended Streaming History",
    ),
    "current": Vintage(
        "current",
        "Streaming_History_Audio_*, 2025/2026 exports (ip_addr + audiobook_*)",
        False,
        True,
        1000,
        "yearly",
        "displace",
        "Spotify Extended Streaming History",
    ),
}
ACCOUNT_FORMATS = ("account", "account-legacy")
ALL_FORMATS = (*VINTAGES, *ACCOUNT_FORMATS)


def _ip(dev: Device, end_ms: int) -> str:
    return f"{dev.ip_prefix}.{1 + (dev.ip_host + (end_ms // (30 * DAY_MS)) * 37) % 254}"  # monthly re-lease


def play_to_extended(
    play: Play, vintage: str | Vintage, export_end_ms: int | None = None, username: str | None = None
) -> dict[str, Any] | None:
    """The row an extended-history export of `vintage` holds for `play` (None: the vintage cannot show it).

    `export_end_ms` enables the endsong quirk of content-less rows for the last weeks before the export.
    """
    v = VINTAGES[vintage] if isinstance(vintage, str) else vintage
    c = play.content
    if c.kind == "audiobook" and not v.audiobooks:
        return None
    end_ms, dev = play.end_ms, play.device
    masked = v.naming == "endsong" and export_end_ms is not None and export_end_ms - end_ms < RECENT_MASK_MS
    blank = masked or (play.video and end_ms < VIDEO_NULL_BEFORE_MS)
    row: dict[str, Any] = {"ts": _ts(end_ms)}
    if v.decrypted:
        row["username"] = username or f"fake-{play.user_id}"
    row["platform"] = _platform(dev, end_ms, masked)
    row["ms_played"] = play.ms_played
    row["conn_country"] = play.country
    if v.decrypted:
        row["ip_addr_decrypted"] = None if masked else _ip(dev, end_ms)
        row["user_agent_decrypted"] = dev.user_agent
    else:
        row["ip_addr"] = _ip(dev, end_ms)
    _content(row, None if blank else c, v.audiobooks)
    row["reason_start"] = play.reason_start
    row["reason_end"] = play.reason_end
    row["shuffle"] = play.shuffle
    old_skipped = v.naming == "endsong" and not masked  # endsong-era files mostly leave skipped null
    row["skipped"] = None if old_skipped or (blank and not masked) else play.skipped
    row["offline"], row["offline_timestamp"] = _offline(play, v, blank and not masked)
    row["incognito_mode"] = play.incognito
    return row


def _content(row: dict[str, Any], c: Track | Episode | Chapter | None, audiobooks: bool) -> None:
    track = c if isinstance(c, Track) else None
    episode = c if isinstance(c, Episode) else None
    chapter = c if isinstance(c, Chapter) else None
    row["master_metadata_track_name"] = track.name if track else None
    row["master_metadata_album_artist_name"] = track.artist if track else None
    row["master_metadata_album_album_name"] = track.album if track else None
    row["spotify_track_uri"] = track.uri if track else None
    row["episode_name"] = episode.name if episode else None
    row["episode_show_name"] = episode.show if episode else None
    row["spotify_episode_uri"] = episode.uri if episode else None
    if audiobooks:
        row["audiobook_title"] = chapter.book if chapter else None
        row["audiobook_uri"] = chapter.book_uri if chapter else None
        row["audiobook_chapter_uri"] = chapter.uri if chapter else None
        row["audiobook_chapter_title"] = chapter.title if chapter else None


def _offline(play: Play, v: Vintage, blank_video: bool) -> tuple[bool | None, int | None]:
    if play.video:  # the Video files report offline fields differently in each era
        if blank_video or v.naming == "endsong" or v.name == "late2024":
            return None, None
        if v.name == "audio2024":
            return None, 0
        if play.end_ms < VIDEO_OFFLINE_FROM_MS:
            return None, None
        return play.offline, play.offline_ms // 1000
    if play.device.kind == "cast" and v.offline_ts_divisor == 1000:
        return play.offline, 0
    if v.audiobooks and not play.device.reports_offline_ts:
        return play.offline, None
    return play.offline, play.offline_ms // v.offline_ts_divisor


def play_to_account(play: Play, legacy: bool = False) -> tuple[str, dict[str, Any]] | None:
    """(stream, row) of an account-data export: stream is music/podcast/audiobook, or "all" when legacy."""
    c, end_time = play.content, _end_time(play.end_ms)
    if isinstance(c, Track):
        return ("all" if legacy else "music"), {
            "endTime": end_time,
            "artistName": c.artist,
            "trackName": c.name,
            "msPlayed": play.ms_played,
        }
    if isinstance(c, Episode):
        if legacy:  # the old files put podcasts into the music columns
            return "all", {
                "endTime": end_time,
                "artistName": c.show,
                "trackName": c.name,
                "msPlayed": play.ms_played,
            }
        return "podcast", {
            "endTime": end_time,
            "podcastName": c.show,
            "episodeName": c.name,
            "msPlayed": play.ms_played,
        }
    if legacy:
        return None
    return "audiobook", {
        "endTime": end_time,
        "audiobookName": c.book,
        "chapterName": c.title,
        "authorName": c.author,
        "msPlayed": play.ms_played,
    }
