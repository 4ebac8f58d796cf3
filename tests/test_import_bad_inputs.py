"""Every bad input gets a clear error naming the file and the problem, exits non-zero, loads nothing of
that file, and leaves everything loaded before untouched. Through the real `tracktracker import`."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.warehouse.db import query

GOOD = REAL_DATA / "spotify-extended" / "mica-92--Streaming_History_Audio_2024_4.json"
USER = "badinput"


def snapshot(settings) -> tuple:
    counts = query(
        settings.database_url,
        """
        select (select count(*) from bronze.spotify_extended_history),
               (select count(*) from bronze.spotify_account_history),
               (select count(*) from bronze.loaded_files),
               (select count(*) from gold.fct_plays),
               (select coalesce(sum(ms_played), 0) from gold.fct_plays)
    """,
    )[1][0]
    return counts


@pytest.fixture(scope="module")
def loaded(real_gold):
    code, output = cli("users", "add", USER, "--timezone", "Europe/Lisbon")
    assert code == 0, output
    code, output = cli("import", USER, str(GOOD))
    assert code == 0, output
    return real_gold


def rows(n: int = 30) -> list[dict]:
    return json.loads(GOOD.read_text())[:n]


def write(tmp: Path, name: str, content: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def zipped(tmp: Path, name: str, entries: dict[str, bytes]) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return path


def _truncated(tmp: Path) -> Path:
    data = json.dumps(rows(200)).encode()
    return write(tmp, "Streaming_History_Audio_2024_9.json", data[: int(len(data) * 0.7)])


def _wrong_type(tmp: Path) -> Path:
    r = rows(50)
    r[41]["ms_played"] = "abc"
    return write(tmp, "wrong_type.json", json.dumps(r))


def _negative(tmp: Path) -> Path:
    r = rows(50)
    r[7]["ms_played"] = -1200
    return write(tmp, "negative_ms.json", json.dumps(r))


def _no_ts(tmp: Path) -> Path:
    r = rows(10)
    del r[4]["ts"]
    return write(tmp, "rows_without_ts.json", json.dumps(r))


def _account_no_end_time(tmp: Path) -> Path:
    return write(
        tmp,
        "StreamingHistory_music_0.json",
        json.dumps([{"artistName": "a", "trackName": "b", "msPlayed": 1}]),
    )


def _bomb(tmp: Path) -> Path:
    return zipped(tmp, "bomb.zip", {"endsong_0.json": b"[" + b" " * (80 << 20) + b"]"})


def _corrupt_zip(tmp: Path) -> Path:
    path = zipped(tmp, "corrupt.zip", {"endsong_0.json": json.dumps(rows(300)).encode()})
    data = bytearray(path.read_bytes())
    data[200:400] = b"\x00" * 200
    path.write_bytes(bytes(data))
    return path


def _traversal_zip(tmp: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/endsong_0.json", json.dumps(rows(5)))
        zf.writestr("../../../../tmp/evil.json", b"[]")
    return write(tmp, "traversal.zip", buffer.getvalue())


def _absolute_zip(tmp: Path) -> Path:
    return zipped(
        tmp, "absolute.zip", {"/etc/cron.d/evil.json": b"[]", "endsong_0.json": json.dumps(rows(5))}
    )


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not json": (lambda t: write(t, "endsong_0.json", "this is not json at all"), "not JSON"),
    "truncated json": (_truncated, "truncated"),
    "an object": (
        lambda t: write(t, "object.json", '{"ts": "x", "ms_played": 1}'),
        "single listening record",
    ),
    "a list of strings": (lambda t: write(t, "strings.json", '["a", "b", "c"]'), "holds strings"),
    "rows without ts": (_no_ts, "record 5"),
    "account rows without endTime": (_account_no_end_time, "neither `ts`"),
    "ms_played abc": (_wrong_type, "record 42: field `ms_played`"),
    "negative ms": (_negative, "record 8: field `ms_played`"),
    "zip without history": (
        lambda t: zipped(
            t,
            "nohistory.zip",
            {"Userdata.json": b'{"username": "x", "email": "y"}', "readme.pdf": b"%PDF-1.4"},
        ),
        "no Spotify streaming history",
    ),
    "corrupt zip": (_corrupt_zip, "corrupt"),
    "zip with ../ entry": (_traversal_zip, "unsafe entry name"),
    "zip with absolute entry": (_absolute_zip, "unsafe entry name"),
    "zip bomb": (_bomb, "zip bomb"),
    "non-utf-8 bytes": (
        lambda t: write(t, "latin1.json", json.dumps(rows(3)).encode().replace(b"android", b"andr\xf6id")),
        "not UTF-8",
    ),
    "utf-16 file": (lambda t: write(t, "utf16.json", json.dumps(rows(3)).encode("utf-16")), "not JSON"),
    "empty file": (lambda t: write(t, "empty.json", b""), "empty"),
    "a pdf named .json": (lambda t: write(t, "history.json", b"%PDF-1.7 ..."), "PDF"),
    "a library export": (
        lambda t: t / "x" if False else REAL_DATA / "spotify-account" / "hobbies-w-erin--YourLibrary.json",
        "library export",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_clearly_and_loses_nothing(loaded, tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    before = snapshot(loaded)
    code, output = cli("import", USER, str(path))
    assert code != 0, output
    assert path.name in output and expected in output, output
    assert "rejected" in output
    assert snapshot(loaded) == before
    rejected = loaded.rejected_root / USER
    assert any(p.name.endswith(path.name + ".error.txt") for p in rejected.iterdir())


def test_unknown_user(loaded) -> None:
    before = snapshot(loaded)
    code, output = cli("import", "nobody-here", str(GOOD))
    assert code == 1 and "Unknown user 'nobody-here'" in output and "users add" in output
    assert snapshot(loaded) == before
    assert not (loaded.inbox_root / "nobody-here").exists()


def test_missing_file(loaded, tmp_path: Path) -> None:
    code, output = cli("import", USER, str(tmp_path / "nope.json"))
    assert code == 1 and "nope.json: no such file" in output


def test_time_zone_that_does_not_exist(loaded) -> None:
    code, output = cli("users", "add", "tzless", "--timezone", "Europe/Atlantis")
    assert code == 1 and "Unknown time zone 'Europe/Atlantis'" in output
    code, output = cli("users", "list")
    assert "tzless" not in output


def test_same_file_twice_is_a_reported_no_op(loaded) -> None:
    before = snapshot(loaded)
    code, output = cli("import", USER, str(GOOD))
    assert code == 0 and "already loaded" in output and "Nothing new" in output
    assert snapshot(loaded) == before


def test_one_bad_file_among_good_ones(loaded, tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "new_good.json",
        json.dumps([dict(r, ts=f"2010-01-01T00:00:{i:02d}Z") for i, r in enumerate(rows(20))]),
    )
    bad = _wrong_type(tmp_path)
    before = snapshot(loaded)
    code, output = cli("import", USER, str(good), str(bad))
    assert code == 1 and "wrong_type.json" in output and "20 new records" in output
    after = snapshot(loaded)
    assert after[0] == before[0] + 20 and after[3] == before[3] + 20
