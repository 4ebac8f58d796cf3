"""ListenBrainz export files, read without a database: recognised by content, every listen of the
real samples read (tests/reference_listenbrainz.py), bad files refused by name and line."""

from __future__ import annotations

import io
import json

import pytest

from tests import reference_listenbrainz as ref
from tests.conftest import REAL_DATA
from tracktracker_assets.exports.catalogue import not_history_of, row_format_of
from tracktracker_assets.exports.errors import ImportProblem
from tracktracker_assets.exports.rowformats import Head, ReadContext
from tracktracker_assets.listenbrainz import readers

SAMPLES = REAL_DATA / "other-platforms"
JSONL = SAMPLES / "metabrainz--listenbrainz_listens.jsonl"
API = SAMPLES / "metabrainz--get_listens_happy_path_response.json"


class ForwardOnly(io.BytesIO):
    """The loader's stream reads forward only (it feeds COPY as it goes)."""

    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("seek")


def head(data: bytes) -> Head:
    return Head("f", data[:65536], len(data) <= 65536)


def read(data: bytes, name: str = "export") -> tuple[list[dict], ReadContext]:
    fmt = row_format_of(head(data))
    assert fmt is not None and fmt.service == "listenbrainz", f"{name} not recognised"
    context = ReadContext(name)
    rows = [
        dict(zip(readers.COLUMNS, row, strict=True))
        for batch in fmt.read(ForwardOnly(data), context)
        for row in batch
    ]
    return rows, context


def older_export() -> bytes:
    """The export before 2025: the listens as the API gives them, one compact JSON array (orjson), with
    inserted_at 0 where ListenBrainz did not know it."""
    listens = [{**listen, "inserted_at": 0} for listen in ref.api_listens(API)]
    return json.dumps(listens, separators=(",", ":")).encode()


def test_each_file_is_recognised_as_its_format() -> None:
    assert row_format_of(head(JSONL.read_bytes())).name == "listenbrainz_export_jsonl"
    assert row_format_of(head(API.read_bytes())).name == "listenbrainz_api_json"
    assert row_format_of(head(older_export())).name == "listenbrainz_export_json"


def test_export_lines_every_listen_and_its_ids() -> None:
    rows, _ = read(JSONL.read_bytes(), JSONL.name)
    expected = ref.jsonl_listens(JSONL)
    assert len(rows) == len(expected) == 2
    for row, listen in zip(rows, expected, strict=True):
        metadata = listen["track_metadata"]
        info, mapping = metadata["additional_info"], metadata["mbid_mapping"]
        assert row["listened_at"] == ref.started(listen)
        assert abs(row["inserted_at"].timestamp() - listen["inserted_at"]) < 1e-6
        assert (row["track_name"], row["artist_name"], row["release_name"]) == (
            metadata["track_name"], metadata["artist_name"], metadata["release_name"],
        )  # fmt: skip
        assert row["recording_mbid"] == mapping["recording_mbid"]
        assert row["release_mbid"] == mapping["release_mbid"]
        assert row["recording_msid"] == metadata["recording_msid"]
        assert row["isrc"] == info["isrc"] and row["duration_ms"] == info["duration_ms"]
        assert row["spotify_track_id"] == ref.spotify_id(listen) and len(row["spotify_track_id"]) == 22
        assert (row["music_service"], row["submission_client"]) == (
            info["music_service"],
            info["submission_client"],
        )
        assert json.loads(row["track_metadata"]) == metadata  # as received
        assert row["extra"] is None  # nothing else on an export line


def test_older_array_and_api_response_every_listen() -> None:
    expected = ref.api_listens(API)
    api_rows, context = read(API.read_bytes(), API.name)
    assert context.dropped == {"user_name"}
    older_rows, _ = read(older_export())
    assert len(api_rows) == len(older_rows) == len(expected) == 25
    as_parsed = [{**row, "track_metadata": json.loads(row["track_metadata"])} for row in api_rows]
    assert as_parsed == [{**row, "track_metadata": json.loads(row["track_metadata"])} for row in older_rows]
    for row, listen in zip(api_rows, expected, strict=True):
        info = listen["track_metadata"]["additional_info"]
        assert row["listened_at"] == ref.started(listen)
        assert row["recording_msid"] == listen["recording_msid"]  # beside track_metadata in this vintage
        assert row["recording_mbid"] is None  # "" in the file
        assert row["listening_from"] == info["listening_from"] == "spotify"
        assert row["spotify_track_id"] == ref.spotify_id(listen)
        assert json.loads(row["extra"]) == {"recording_msid": listen["recording_msid"]}  # user_name: private


def test_older_duration_in_seconds() -> None:
    listen = ref.api_listens(API)[0]
    del listen["track_metadata"]["additional_info"]["duration_ms"]
    listen["track_metadata"]["additional_info"]["duration"] = 250
    rows, _ = read(json.dumps([listen]).encode())
    assert rows[0]["duration_ms"] == 250_000


def test_the_export_zips_other_members_are_not_history() -> None:
    user = b'{"user_id": 1, "username": "iliekcomputers"}\n'
    feedback = b'{"recording_msid": "a", "recording_mbid": null, "score": 1, "created": 1700000000}\n'
    pinned = b'{"recording_msid": "a", "blurb_content": "x", "pinned_until": 1, "created": 1}\n'
    older_feedback = b'[{"user_id":"x","recording_msid":"a","recording_mbid":null,"score":-1,"created":1}]'
    cases = (
        (user, "user.json"),
        (feedback, "feedback.jsonl"),
        (older_feedback, "feedback"),
        (pinned, "pinned_recording"),
    )
    for data, what in cases:
        assert row_format_of(head(data)) is None
        assert what in not_history_of(head(data)).what


def refused(data: bytes, name: str = "bad.jsonl") -> ImportProblem:
    with pytest.raises(ImportProblem) as caught:
        read(data, name)
    assert caught.value.file == name and caught.value.hint
    return caught.value


def test_bad_files_are_refused() -> None:
    lines = JSONL.read_bytes().split(b"\n")
    truncated = lines[0] + b"\n" + lines[1][: len(lines[1]) // 2]
    assert refused(truncated).record == 2
    array = json.dumps(ref.api_listens(API)).encode()
    assert "cut short" in refused(array[:-100]).problem
    # not UTF-8: a name re-saved as Latin-1 on the second line
    latin1 = (
        lines[0] + b"\n" + lines[1].replace(b"Golden", b"G\xe9lden").replace(b"California", b"Calif\xf3rnia")
    )
    problem = refused(latin1)
    assert problem.record == 2 and "UTF-8" in problem.problem
    assert "UTF-16" in refused(JSONL.read_text().encode("utf-16")).problem
    bad_time = lines[1].replace(b'"listened_at": 1748967954', b'"listened_at": "last tuesday"')
    problem = refused(lines[0] + b"\n" + bad_time)
    assert problem.record == 2 and "last tuesday" in problem.problem


def test_a_lone_account_file_is_refused_by_the_loader(tmp_path) -> None:
    from tracktracker_assets.exports.loader import detect
    from tracktracker_assets.exports.sources import FileSource

    lone = tmp_path / "user.json"
    lone.write_text('{"user_id": 1, "username": "iliekcomputers"}\n')
    with pytest.raises(ImportProblem) as caught:
        detect(FileSource(lone))
    assert caught.value.file == str(lone)
    assert "not listening history" in caught.value.problem and "listens/<year>" in caught.value.hint
