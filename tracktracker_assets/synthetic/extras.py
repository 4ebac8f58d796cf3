"""Non-history files of a ZIP: the ReadMe PDF and the account-data JSON beside the history."""

from __future__ import annotations

import io
import random
from typing import Any

from tracktracker_assets.synthetic._rand import _mix, _spotify_id
from tracktracker_assets.synthetic.catalog import Track
from tracktracker_assets.synthetic.files import _ENCODE, _Sink
from tracktracker_assets.synthetic.listeners import UserProfile
from tracktracker_assets.synthetic.names import _phrase
from tracktracker_assets.synthetic.vintages import VINTAGES


def _readme_pdf(title: str) -> bytes:
    """A tiny but well-formed one-page PDF (correct xref offsets)."""
    text = f"BT /F1 14 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(text)).encode() + b" >>\nstream\n" + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _write_zip_extras(sink: _Sink, user: UserProfile, fmt: str, account_json: bool) -> None:
    if fmt in VINTAGES:
        sink.put("ReadMeFirst_ExtendedStreamingHistory.pdf", _readme_pdf("Extended Streaming History"))
        return
    sink.put("ReadMeFirst_YourAccountData.pdf", _readme_pdf("Your Spotify Account Data"))
    if not account_json:
        return
    for name, payload in (
        ("Userdata.json", _userdata(user)),
        ("Playlist1.json", _playlists(user)),
        ("YourLibrary.json", _library(user)),
    ):
        sink.put(name, _ENCODE(payload).encode())


def _userdata(user: UserProfile) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": f"{user.user_id}@example.com",
        "country": user.country,
        "createdFromFacebook": False,
        "facebookUid": None,
        "birthdate": "1990-01-01",
        "gender": "neutral",
        "postalCode": None,
        "mobileNumber": None,
        "mobileOperator": None,
        "mobileBrand": None,
        "creationTime": user.since.isoformat(),
    }


def _track_item(t: Track) -> dict[str, Any]:
    return {
        "track": {"trackName": t.name, "artistName": t.artist, "albumName": t.album, "trackUri": t.uri},
        "episode": None,
        "audiobook": None,
        "localTrack": None,
        "addedDate": "2024-01-19",
    }


def _playlists(user: UserProfile) -> dict[str, Any]:
    tracks = user.catalog.tracks
    rng = random.Random(_mix(user.key, 21))
    playlists = []
    for k in range(rng.randint(2, 6)):
        items = [_track_item(tracks[rng.choice(user.core)]) for _ in range(rng.randint(3, 25))]
        playlists.append(
            {
                "name": _phrase(rng, user.lang, 2) if k else "On Repeat-ish",
                "lastModifiedDate": "2024-06-28",
                "items": items,
                "description": None,
                "numberOfFollowers": 0,
            }
        )
    return {"playlists": playlists}


def _library(user: UserProfile) -> dict[str, Any]:
    cat = user.catalog
    tracks = [
        {"artist": t.artist, "album": t.album, "track": t.name, "uri": t.uri}
        for t in (cat.tracks[i] for i in user.core[:50])
    ]
    artists = [
        {"name": cat.artists[a].name, "uri": f"spotify:artist:{_spotify_id(cat.seed, 'a', a)}"}
        for a in user.fav_artists
    ]
    shows = [
        {
            "name": cat.shows[s].name,
            "publisher": cat.shows[s].publisher,
            "uri": f"spotify:show:{_spotify_id(cat.seed, 's', s)}",
        }
        for s in user.shows
    ]
    return {
        "tracks": tracks,
        "albums": [],
        "shows": shows,
        "episodes": [],
        "bannedTracks": [],
        "artists": artists,
        "bannedArtists": [],
        "other": [],
    }
