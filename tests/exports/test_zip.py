"""The ZIP as Spotify delivers it, and hostile or broken ZIPs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.inbox import drop_into_inbox, process_file
from tracktracker_assets.exports.sources import first_corrupt_member, zip_entries

EXT = REAL_DATA / "spotify-extended"
ACC = REAL_DATA / "spotify-account"


def spotify_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        folder = "Spotify Extended Streaming History/"
        zf.writestr(folder, "")
        zf.write(
            EXT / "Khushi-203006--Streaming_History_Audio_2023.json",
            folder + "Streaming_History_Audio_2023.json",
        )
        zf.write(
            EXT / "Khushi-203006--Streaming_History_Video_2024.json",
            folder + "Streaming_History_Video_2024.json",
        )
        zf.writestr(folder + "ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF-1.4\n%%EOF\n")
        zf.write(ACC / "hobbies-w-erin--Playlist1.json", "Spotify Account Data/Playlist1.json")
        zf.write(ACC / "hobbies-w-erin--YourLibrary.json", "Spotify Account Data/YourLibrary.json")
    return path


def test_spotify_zip_loads_history_and_skips_the_rest(settings, conn, tmp_path: Path) -> None:
    zipped = spotify_zip(tmp_path / "my_spotify_data.zip")
    dropped = drop_into_inbox(settings, "zip-user", zipped)
    result = process_file(conn, settings, "zip-user", dropped)
    assert result.ok, result.problems
    statuses = {f.name.split(":")[1]: f.status for f in result.files}
    assert statuses == {
        "Spotify Extended Streaming History/Streaming_History_Audio_2023.json": "loaded",
        "Spotify Extended Streaming History/Streaming_History_Video_2024.json": "loaded",
        "Spotify Account Data/Playlist1.json": "skipped",
        "Spotify Account Data/YourLibrary.json": "skipped",
    }
    assert result.inserted == 4067 + 43
    assert not dropped.exists() and result.moved_to and result.moved_to.parent.name == "zip-user"
    # the same ZIP again: every entry is a no-op
    again = process_file(conn, settings, "zip-user", drop_into_inbox(settings, "zip-user", zipped))
    assert again.ok and again.inserted == 0
    assert {f.status for f in again.files} == {"already_loaded", "skipped"}


def _refused(settings, conn, path: Path, expected: str) -> None:
    dropped = drop_into_inbox(settings, "zip-bad", path)
    result = process_file(conn, settings, "zip-bad", dropped)
    assert not result.ok
    text = " ".join(result.problems)
    assert path.name in text and expected in text, text
    assert result.moved_to is not None and result.moved_to.parent.parent.name == "rejected"
    assert Path(str(result.moved_to) + ".error.txt").read_text().strip()
    with conn.cursor() as cur:
        cur.execute("select count(*) from bronze.loaded_files where user_id = 'zip-bad'")
        assert cur.fetchone()[0] == 0


def test_zip_without_history(settings, conn, tmp_path: Path) -> None:
    path = tmp_path / "not_history.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(ACC / "hobbies-w-erin--Playlist1.json", "Spotify Account Data/Playlist1.json")
        zf.writestr("notes.txt", "hello")
    _refused(settings, conn, path, "no listening history file")


@pytest.mark.parametrize(
    "name", ["../../etc/evil.json", "/abs/evil.json", "a/../../evil.json", "C:\\evil.json"]
)
def test_zip_with_unsafe_entry_is_refused_whole(settings, conn, tmp_path: Path, name: str) -> None:
    path = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(EXT / "CandidlyRed--endsong.json", "endsong_0.json")
        zf.writestr(zipfile.ZipInfo(name), b"[]")
    _refused(settings, conn, path, "unsafe entry name")


def test_zip_bomb_is_refused(settings, conn, tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.write(EXT / "CandidlyRed--endsong.json", "endsong_0.json")
        zf.writestr("endsong_1.json", b"[" + b" " * (64 << 20) + b"]")
    _refused(settings, conn, path, "zip bomb")


def test_zip_entry_lying_about_its_size_is_stopped(tmp_path: Path) -> None:
    # the central directory says 10 bytes; the stream inflates to far more
    payload = b"[" + b" " * (4 << 20) + b"]"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("endsong_0.json", payload)
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size in the directory
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(ImportProblem) as info:
        entries = zip_entries(path)
        with entries[0].open() as stream:
            while stream.read(1 << 16):
                pass
    assert "liar.zip" in str(info.value)


def test_the_first_corrupt_member_is_the_one_testzip_names(tmp_path: Path) -> None:
    """The checksums are checked on threads, each member once; the member named is the first that
    fails in the archive's order, as ZipFile.testzip() names it, whichever thread found it."""
    path = tmp_path / "members.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for n in range(7):
            zf.writestr(f"Streaming_History_Audio_{n}.json", (f"[{n}]" + " " * (n * 5000)).encode())
        zf.writestr("folder/", b"")
    good = path.read_bytes()
    assert first_corrupt_member(path, zipfile.ZipFile(path).infolist()) is None
    data = bytearray(good)
    for n in (5, 2):  # stored, not compressed: a changed byte fails only the checksum
        data[data.index(f"[{n}]".encode())] = ord("{")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() == "Streaming_History_Audio_2.json"
        assert first_corrupt_member(path, zf.infolist()) == "Streaming_History_Audio_2.json"


def test_corrupt_zip(settings, conn, tmp_path: Path) -> None:
    good = spotify_zip(tmp_path / "good.zip").read_bytes()
    corrupt = bytearray(good)
    middle = len(corrupt) // 3
    corrupt[middle : middle + 2000] = b"\x00" * 2000
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(corrupt))
    _refused(settings, conn, path, "corrupt")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good[: len(good) // 2])
    _refused(settings, conn, truncated, "ZIP")
