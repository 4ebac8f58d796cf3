"""The streaming array reader: boundaries, odd but valid layouts, and every malformation, named."""

from __future__ import annotations

import io
import json

import pytest

from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.formats import ACCOUNT, EXTENDED, ExtendedRecord
from tracktracker_assets.exports.jsonarray import ArrayReader, sniff

BASE = {"ts": "2022-09-07T16:30:37Z", "ms_played": 1000, "master_metadata_track_name": "x"}


def rec(i: int, **extra: object) -> dict:
    return {**BASE, "ms_played": i, **extra}


def read(data: bytes, chunk: int = 64, fmt=EXTENDED) -> list:
    reader = ArrayReader(io.BytesIO(data), "test.json", fmt, chunk_bytes=chunk)
    out = []
    for batch in reader.batches():
        for i, r in enumerate(batch.records):
            extra = batch.extras[i] if batch.extras else None
            out.append((r, extra))
    return out


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":"), (",\n  ", ": ")])
def test_every_record_once_whatever_the_chunking(chunk: int, separators: tuple[str, str]) -> None:
    records = [rec(i, master_metadata_track_name=f"Song {{Live}} }}, {{ [{i}]") for i in range(50)]
    data = json.dumps(records, separators=separators, ensure_ascii=False).encode()
    got = read(data, chunk)
    assert [r.ms_played for r, _ in got] == list(range(50))
    assert got[3][0].master_metadata_track_name == "Song {Live} }, { [3]"


def test_pretty_printed_with_bom_and_unicode() -> None:
    records = [rec(i, master_metadata_track_name="nếu lúc đó ✨ 高橋") for i in range(5)]
    data = b"\xef\xbb\xbf\n" + json.dumps(records, indent=4, ensure_ascii=False).encode() + b"\n\n"
    got = read(data, 16)
    assert len(got) == 5 and got[0][0].master_metadata_track_name == "nếu lúc đó ✨ 高橋"


def test_unknown_fields_are_kept_aside_privacy_fields_parse() -> None:
    records = [rec(1, username="someone", ip_addr="192.0.2.1"), rec(2, future_field={"a": 1}, other=3)]
    got = read(json.dumps(records).encode(), 4096)
    assert got[0][1] is None
    assert got[1][1] == {"future_field": {"a": 1}, "other": 3}
    assert isinstance(got[1][0], ExtendedRecord)


def problem(data: bytes, chunk: int = 64, fmt=EXTENDED) -> ImportProblem:
    with pytest.raises(ImportProblem) as info:
        read(data, chunk, fmt)
    assert "test.json" in str(info.value)
    return info.value


def test_truncated_file_names_the_record() -> None:
    data = json.dumps([rec(i) for i in range(20)]).encode()
    exc = problem(data[: len(data) // 2])
    assert "truncated" in str(exc) and exc.record is not None


def test_wrong_type_names_record_and_field() -> None:
    records = [rec(i) for i in range(10)]
    records[6]["ms_played"] = "abc"
    exc = problem(json.dumps(records).encode())
    assert exc.record == 7 and "ms_played" in str(exc) and "int" in str(exc)


def test_negative_ms_is_refused() -> None:
    exc = problem(json.dumps([rec(1), rec(-5)]).encode())
    assert exc.record == 2 and "ms_played" in str(exc) and ">= 0" in str(exc)


def test_record_without_ts() -> None:
    bad = [rec(1), {"ms_played": 5, "platform": "android"}]
    exc = problem(json.dumps(bad).encode())
    assert exc.record == 2 and "ts" in str(exc)


def test_malformed_middle() -> None:
    data = json.dumps([rec(i) for i in range(30)]).encode().replace(b"}, {", b"} {", 1)
    exc = problem(data, 4096)
    assert "malformed" in str(exc)


def test_invalid_utf8_names_the_offset() -> None:
    data = json.dumps([rec(1, master_metadata_track_name="abc")]).encode().replace(b"abc", b"a\xff\xfec")
    exc = problem(data, 4096)
    assert "not UTF-8" in str(exc) and "0xff" in str(exc)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"hello", "not JSON"),
        (b'{"playlists": []}', "playlist"),
        (b'{"a": 1}', "JSON object"),
        (b'["a", "b"]', "holds strings"),
        (b"[1, 2]", "holds numbers"),
        (b'[{"foo": 1}]', "neither `ts`"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"[", "truncated"),
    ],
)
def test_sniff_refuses_what_is_not_history(data: bytes, expected: str) -> None:
    with pytest.raises(ImportProblem) as info:
        sniff(data, complete=True, name="x.json")
    assert expected in str(info.value)


def test_sniff_tells_formats_apart() -> None:
    assert sniff(json.dumps([rec(1)]).encode(), complete=True, name="x").format is EXTENDED
    account = [{"endTime": "2023-10-02 23:43", "artistName": "a", "trackName": "b", "msPlayed": 5}]
    assert sniff(json.dumps(account).encode(), complete=True, name="x").format is ACCOUNT
    assert sniff(b" [ ] ", complete=True, name="x").format is None


@pytest.mark.parametrize("seed", range(40))
def test_randomised_layouts_read_exactly_like_json_loads(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    alphabet = ["a", "}", "{", ",", "]", "[", '"', "\\", "\n", "\t", " ", "é", "高", "✨", ":", "}, {"]
    records = []
    for i in range(rnd.randint(0, 40)):
        name = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        records.append(rec(i, master_metadata_track_name=name, shuffle=rnd.choice([True, False, None])))
    layout = rnd.choice([{"indent": None}, {"indent": 2}, {"separators": (",", ":")}])
    data = json.dumps(records, ensure_ascii=rnd.choice([True, False]), **layout).encode()
    got = read(data, rnd.choice([1, 3, 17, 100, 1 << 16]))
    assert [(r.ms_played, r.master_metadata_track_name, r.shuffle) for r, _ in got] == [
        (r["ms_played"], r["master_metadata_track_name"], r["shuffle"]) for r in records
    ]
