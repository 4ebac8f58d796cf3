"""The Spotify export formats we read, as typed records, and where each goes in bronze.

Formats are told apart by the keys of the first record, never by file names (names vary by vintage
and by how people save them). Each format has a strict record type (the fast path) listing every key
Spotify is known to send; a record with other keys is read through a lenient path that keeps the
unknown keys in `extra`. Privacy fields are declared so they parse, and are never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec

# Timestamps are checked here, never left to PostgreSQL alone: its input parser also takes words
# ('yesterday', 'now', 'epoch', 'infinity', 'allballs') and a dozen other layouts, which would be
# stored as real plays. Extended history: RFC 3339 ("2022-09-07T16:30:37Z"), parsed by msgspec in C
# (3% of the decoding time); without an offset it means UTC, like the sessions (warehouse/db.py).
# Account data: "2023-10-02 23:43" (UTC), a pattern (these files are small); PostgreSQL still refuses
# a day that does not exist (02-30) during COPY, naming the record.
Timestamp = datetime
MINUTE_TIMESTAMP = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?Z?$"
)
MinuteTimestamp = Annotated[str, msgspec.Meta(pattern=MINUTE_TIMESTAMP)]
TIMESTAMP_EXAMPLES = {"ts": "2022-09-07T16:30:37Z", "endTime": "2023-10-02 23:43"}
Millis = Annotated[int, msgspec.Meta(ge=0)]
OptStr = str | None
OptBool = bool | None

PRIVACY_FIELDS = frozenset({"username", "ip_addr", "ip_addr_decrypted", "user_agent_decrypted"})


class ExtendedRecord(msgspec.Struct, forbid_unknown_fields=True):
    ts: Timestamp
    ms_played: Millis
    platform: OptStr = None
    conn_country: OptStr = None
    master_metadata_track_name: OptStr = None
    master_metadata_album_artist_name: OptStr = None
    master_metadata_album_album_name: OptStr = None
    spotify_track_uri: OptStr = None
    episode_name: OptStr = None
    episode_show_name: OptStr = None
    spotify_episode_uri: OptStr = None
    audiobook_title: OptStr = None
    audiobook_uri: OptStr = None
    audiobook_chapter_uri: OptStr = None
    audiobook_chapter_title: OptStr = None
    reason_start: OptStr = None
    reason_end: OptStr = None
    shuffle: OptBool = None
    skipped: OptBool = None
    offline: OptBool = None
    offline_timestamp: int | None = None
    incognito_mode: OptBool = None
    # privacy fields: parsed so the strict path accepts them, never stored
    username: OptStr = None
    ip_addr: OptStr = None
    ip_addr_decrypted: OptStr = None
    user_agent_decrypted: OptStr = None


class AccountRecord(msgspec.Struct, forbid_unknown_fields=True):
    endTime: MinuteTimestamp
    msPlayed: Millis
    artistName: OptStr = None
    trackName: OptStr = None
    podcastName: OptStr = None
    episodeName: OptStr = None
    audiobookName: OptStr = None
    chapterName: OptStr = None
    authorName: OptStr = None


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    record_type: type[msgspec.Struct]
    table: str
    # struct field -> bronze column, in COPY order; fields not listed (privacy) are dropped
    columns: dict[str, str]
    time_field: str

    @property
    def known_fields(self) -> frozenset[str]:
        return frozenset(self.record_type.__struct_fields__)


EXTENDED = Format(
    name="spotify_extended",
    description="Spotify Extended streaming history",
    record_type=ExtendedRecord,
    table="bronze.spotify_extended_history",
    columns={name: name for name in ExtendedRecord.__struct_fields__ if name not in PRIVACY_FIELDS},
    time_field="ts",
)

ACCOUNT = Format(
    name="spotify_account",
    description="Spotify Account data streaming history",
    record_type=AccountRecord,
    table="bronze.spotify_account_history",
    columns={
        "endTime": "end_time",
        "msPlayed": "ms_played",
        "artistName": "artist_name",
        "trackName": "track_name",
        "podcastName": "podcast_name",
        "episodeName": "episode_name",
        "audiobookName": "audiobook_name",
        "chapterName": "chapter_name",
        "authorName": "author_name",
    },
    time_field="endTime",
)

FORMATS = (EXTENDED, ACCOUNT)

# Top-level keys of other files in Spotify's ZIPs, to say what a non-history file is
KNOWN_OTHER_FILES: dict[frozenset[str], str] = {
    frozenset({"playlists"}): "a playlist export (Playlist*.json)",
    frozenset({"tracks", "albums"}): "a library export (YourLibrary.json)",
    frozenset({"username", "email"}): "account details (Userdata.json)",
}


def detect_by_keys(keys: set[str]) -> Format | None:
    if {"ts", "ms_played"} <= keys:
        return EXTENDED
    if {"endTime", "msPlayed"} <= keys:
        return ACCOUNT
    return None


def describe_object(keys: set[str]) -> str:
    for signature, what in KNOWN_OTHER_FILES.items():
        if signature <= keys:
            return what
    return "a JSON object with keys " + ", ".join(sorted(keys)[:6])
