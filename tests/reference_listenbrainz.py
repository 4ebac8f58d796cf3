"""An independent, plain-Python reading of ListenBrainz exports: what bronze must hold of them.

Written from the export formats (stdlib json, no project code).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def jsonl_listens(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def api_listens(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["payload"]["listens"]


def started(listen: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(listen["listened_at"], UTC)


def spotify_id(listen: dict[str, Any]) -> str | None:
    url = listen["track_metadata"].get("additional_info", {}).get("spotify_id") or ""
    return url.rsplit("/", 1)[-1] or None


def is_spotify_importer_listen(listen: dict[str, Any]) -> bool:
    """ListenBrainz's own Spotify readers stamp a listen with Spotify's end of playback: today marked
    music_service spotify.com by client 'listenbrainz' (or the archive importer, with ms_played),
    before 2022 by listening_from 'spotify' alone, with the Spotify track's URL."""
    info = listen["track_metadata"].get("additional_info", {})
    if "music_service" in info or "submission_client" in info:
        return info.get("music_service") == "spotify.com" and (
            info.get("submission_client") == "listenbrainz"
            or (info.get("submission_client") == "ListenBrainz Archive Importer" and "ms_played" in info)
        )
    return info.get("listening_from") == "spotify" and bool(info.get("spotify_id"))
