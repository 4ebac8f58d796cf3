"""Last.fm export files, read without a database: recognised by content, every scrobble of the real
samples read (counts and values from tests/reference_lastfm.py), bad files refused by name and row."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import reference_lastfm as ref
from tests.conftest import REAL_DATA
from tracktracker_assets.exports.catalogue import not_history_of, row_format_of
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.rowformats import Head, ReadContext
from tracktracker_assets.lastfm import readers

SAMPLES = REAL_DATA / "other-platforms"
STATS_JSON = SAMPLES / "felhag--lastfmstats-TestUser.json"
GHAN_CSV = SAMPLES / "SachaWheeler--scrobbles.csv"
RECENT = SAMPLES / "duhnnie--user.getRecentTracks.json"
EXTENDED = SAMPLES / "duhnnie--user.getExtendedRecentTracks.json"
SINGLE = SAMPLES / "inflatablefriends--UserGetRecentTracksSingle.json"


class ForwardOnly(io.BytesIO):
    """The loader's stream reads forward only (it feeds COPY as it goes)."""

    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("seek")


def head(data: bytes, name: str = "f") -> Head:
    return Head(name, data[:65536], len(data) <= 65536)


def read(data: bytes, name: str = "export") -> tuple[list[tuple], ReadContext]:
    fmt = row_format_of(head(data, name))
    assert fmt is not None, f"{name} not recognised"
    context = ReadContext(name)
    rows = [row for batch in fmt.read(ForwardOnly(data), context) for row in batch]
    assert all(len(row) == len(fmt.columns) for row in rows)
    return rows, context


def identity(row: tuple) -> ref.Scrobble:
    named = dict(zip(readers.COLUMNS, row, strict=True))
    return (named["scrobbled_at"], named["artist"], named["track"], named["album"])


# --- the exports made from the real samples in the other formats (the tools' documented shapes)


def lastfmstats_csv(scrobbles: list[dict], user: str = "TestUser", album_id: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")  # Papa.unparse: quoted when needed
    writer.writerow(["Artist", "Album", *(["AlbumId"] if album_id else []), "Track", f"Date#{user}"])
    for s in scrobbles:
        writer.writerow(
            [s["artist"], s["album"], *([s.get("albumId", "")] if album_id else []), s["track"], s["date"]]
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def ghan_json_pages(path: Path, per_page: int = 200) -> bytes:
    """lastfm.ghan.nl's JSON: the user.getRecentTracks pages' inner objects, in one array."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    pages = []
    for start in range(0, len(rows), per_page):
        tracks = [
            {
                "artist": {"mbid": r["artist_mbid"], "#text": r["artist"]},
                "streamable": "0",
                "mbid": r["track_mbid"],
                "album": {"mbid": r["album_mbid"], "#text": r["album"]},
                "name": r["track"],
                "url": "https://www.last.fm/music/x",
                "date": {"uts": r["uts"], "#text": r["utc_time"]},
            }
            for r in rows[start : start + per_page]
        ]
        pages.append({"track": tracks, "@attr": {"user": "SachaWheeler", "page": str(len(pages) + 1)}})
    return json.dumps(pages).encode()


def test_each_sample_is_recognised_as_its_format() -> None:
    expected = {
        STATS_JSON: "lastfm_lastfmstats_json",
        GHAN_CSV: "lastfm_ghan_csv",
        RECENT: "lastfm_recent_tracks_json",
        EXTENDED: "lastfm_recent_tracks_json",
        SINGLE: "lastfm_recent_tracks_json",
    }
    for path, name in expected.items():
        fmt = row_format_of(head(path.read_bytes(), path.name))
        assert fmt is not None and fmt.name == name, path.name
    stats = json.loads(STATS_JSON.read_text())["scrobbles"]
    assert row_format_of(head(lastfmstats_csv(stats))).name == "lastfm_lastfmstats_csv"
    assert row_format_of(head(lastfmstats_csv(stats, album_id=False))).name == "lastfm_lastfmstats_csv"
    assert row_format_of(head(ghan_json_pages(GHAN_CSV))).name == "lastfm_recent_tracks_json"


def test_lastfmstats_json_every_scrobble() -> None:
    rows, context = read(STATS_JSON.read_bytes())
    expected = ref.lastfmstats_json(STATS_JSON)
    assert context.dropped == {"username"}  # the owner's Last.fm name: private
    assert len(rows) == len(expected) == 1891
    assert [identity(r) for r in rows] == expected
    assert {r[readers.COLUMNS.index("precision_ms")] for r in rows} == {1000}
    assert {r[-1] for r in rows} == {None}  # nothing beyond the columns


def test_lastfmstats_csv_reads_as_the_json_does() -> None:
    """The same scrobbles in lastfmstats' CSV and JSON exports are the same bronze events."""
    stats = json.loads(STATS_JSON.read_text())["scrobbles"]
    json_rows, _ = read(STATS_JSON.read_bytes())
    for album_id in (True, False):
        csv_rows, _ = read(lastfmstats_csv(stats, album_id=album_id))
        assert [identity(r) for r in csv_rows] == [identity(r) for r in json_rows]


def test_ghan_csv_every_scrobble() -> None:
    rows, _ = read(GHAN_CSV.read_bytes(), GHAN_CSV.name)
    expected = ref.ghan_csv(GHAN_CSV)
    assert len(rows) == len(expected) == 10475
    assert [identity(r) for r in rows] == expected
    # uts is authoritative (seconds), not the minute of utc_time
    assert rows[0][0] == datetime(2024, 7, 11, 9, 7, 32, tzinfo=UTC)
    # empty albums and MBIDs are NULL, not ''
    assert sum(1 for r in rows if r[readers.COLUMNS.index("album")] is None) == 35
    assert "" not in {v for r in rows for v in r[:7]}
    # the one duplicate uts is two different scrobbles, both kept as two events
    assert len(ref.events(expected)) == len(expected)
    assert len({r[0] for r in rows}) == len(rows) - 1


def test_ghan_json_pages_read_as_the_csv_does() -> None:
    csv_rows, _ = read(GHAN_CSV.read_bytes())
    json_rows, _ = read(ghan_json_pages(GHAN_CSV))
    assert [r[:7] for r in json_rows] == [r[:7] for r in csv_rows]


def test_api_pages_skip_now_playing_and_say_so() -> None:
    for path in (RECENT, EXTENDED):
        rows, context = read(path.read_bytes(), path.name)
        assert [identity(r) for r in rows] == ref.recent_tracks_json(path)
        assert len(rows) == 3 - ref.now_playing(path) == 2
        assert any("playing at export time" in note for note in context.notes)


def test_extended_pages_artist_object_and_loved() -> None:
    rows, _ = read(EXTENDED.read_bytes())
    document = json.loads(EXTENDED.read_text())["recenttracks"]["track"][1:]
    named = [dict(zip(readers.COLUMNS, r, strict=True)) for r in rows]
    assert [n["artist"] for n in named] == [t["artist"]["name"] for t in document]
    assert [n["loved"] for n in named] == [t["loved"] == "1" for t in document]
    assert json.loads(named[0]["extra"])["artist"]["url"] == document[0]["artist"]["url"]


def test_a_page_of_one_track_object() -> None:
    rows, _ = read(SINGLE.read_bytes())
    assert [identity(r) for r in rows] == ref.recent_tracks_json(SINGLE)
    assert rows[0][readers.COLUMNS.index("artist_mbid")] == "cba9cec2-be8d-41bd-91b4-a1cd7de39b0c"
    assert rows[0][readers.COLUMNS.index("track_mbid")] is None  # "" in the file


def test_benjaminbenben_csv_minute_precision() -> None:
    stats = json.loads(STATS_JSON.read_text())["scrobbles"][:50]
    lines = []
    for s in stats:
        at = datetime.fromtimestamp(s["date"] / 1000, UTC)
        values = [s["artist"], s["album"], s["track"]]
        lines.append(
            ",".join(v.replace(",", "").replace('"', "") for v in values) + at.strftime(",%d %b %Y %H:%M")
        )
    for data in ("\n".join(lines), "artist,album,name,date\n" + "\n".join(lines)):
        rows, context = read(data.encode())
        assert len(rows) == 50
        assert rows[0][0] == datetime.fromtimestamp(stats[0]["date"] / 1000, UTC).replace(second=0)
        assert {r[readers.COLUMNS.index("precision_ms")] for r in rows} == {60000}
        assert context.notes


# --- bad input: refused with the file, the row and what to do; nothing read


def refused(data: bytes, name: str = "bad.file") -> ImportProblem:
    with pytest.raises(ImportProblem) as caught:
        read(data, name)
    assert caught.value.file == name and caught.value.hint
    return caught.value


def test_truncated_json_is_refused() -> None:
    for path in (STATS_JSON, RECENT):
        data = path.read_bytes()
        problem = refused(data[: len(data) // 2], path.name)
        assert "cut short" in problem.problem


def test_truncated_csv_line_is_refused_by_row() -> None:
    data = GHAN_CSV.read_bytes()
    cut = data[: data.index(b"\r\n", 5000)] + b"\r\n" + b'"1720000000","11 Jul 2024, 09:07","Art'
    problem = refused(cut)
    assert problem.record == cut.count(b"\r\n") + 1


def test_wrong_encoding_is_refused() -> None:
    stats = json.loads(STATS_JSON.read_text())["scrobbles"][:3]
    stats[2]["artist"] = "Beyoncé"
    latin1 = lastfmstats_csv(stats).decode("utf-8-sig").encode("latin-1")  # re-saved: no BOM
    problem = refused(latin1)
    assert "UTF-8" in problem.problem and problem.record == 4
    latin1_json = STATS_JSON.read_bytes().replace(b"Clannad", b"Cl\xe1nnad")
    assert "UTF-8" in refused(latin1_json).problem
    utf16 = GHAN_CSV.read_text(encoding="utf-8").encode("utf-16")
    assert "UTF-16" in refused(utf16).problem


def test_empty_exports_are_refused() -> None:
    assert "no scrobbles" in refused(b'{"username": "x", "scrobbles": []}').problem
    assert "no scrobbles" in refused(b"\xef\xbb\xbfArtist;Album;AlbumId;Track;Date#x\r\n").problem
    assert "no scrobbles" in refused(GHAN_CSV.read_bytes().split(b"\r\n")[0] + b"\r\n").problem


def test_unparsable_date_is_refused_by_row() -> None:
    stats = json.loads(STATS_JSON.read_text())["scrobbles"][:5]
    stats[3]["date"] = "yesterday"
    problem = refused(lastfmstats_csv(stats))
    assert problem.record == 5 and "yesterday" in problem.problem  # the header is row 1
    lines = GHAN_CSV.read_bytes().split(b"\r\n")[:4]
    lines[2] = lines[2].replace(lines[2].split(b",")[0], b'"soon"', 1)
    assert refused(b"\r\n".join(lines)).record == 3


def test_loved_tracks_are_not_history() -> None:
    loved = {
        "lovedtracks": {
            "track": [
                {
                    "artist": {"url": "https://www.last.fm/music/Mew", "name": "Mew", "mbid": ""},
                    "date": {"uts": "1697381465", "#text": "15 Oct 2023, 14:51"},
                    "mbid": "",
                    "name": "Symmetry",
                    "url": "https://www.last.fm/music/Mew/_/Symmetry",
                    "streamable": {"fulltrack": "0", "#text": "0"},
                }
            ],
            "@attr": {"user": "x", "totalPages": "1", "page": "1", "perPage": "50", "total": "1"},
        }
    }
    data = json.dumps(loved).encode()
    assert row_format_of(head(data)) is None
    assert "loved tracks" in not_history_of(head(data)).what
    # ghan's loved export saves the inner pages the way it saves scrobbles: refused by the reader
    problem = refused(json.dumps([loved["lovedtracks"]]).encode())
    assert "loved tracks" in problem.problem and problem.record == 1


def test_a_malformed_record_is_refused_by_number() -> None:
    export = json.loads(STATS_JSON.read_text())
    del export["scrobbles"][41]["artist"]
    problem = refused(json.dumps(export).encode())
    assert problem.record == 42 and "artist" in problem.problem
    page = json.loads(RECENT.read_text())
    del page["recenttracks"]["track"][2]["date"]  # not the now-playing one: a damaged page
    assert refused(json.dumps(page).encode()).record == 3
    stats = json.loads(STATS_JSON.read_text())["scrobbles"][:4]
    extra_field = lastfmstats_csv(stats).replace(b"Clannad;", b"Clannad;;", 1)
    assert refused(extra_field).record == 2
