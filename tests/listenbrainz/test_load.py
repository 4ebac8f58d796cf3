"""ListenBrainz exports through the real loader and inbox into bronze and the staging model: the
export ZIP's listens load, its other files are skipped by name, every listen once across vintages."""

from __future__ import annotations

import zipfile

from tests import reference_listenbrainz as ref
from tests.listenbrainz.test_files import API, JSONL, older_export
from tracktracker_assets.exports.inbox import drop_into_inbox, process_file
from tracktracker_assets.exports.loader import load_source
from tracktracker_assets.exports.sources import FileSource
from tracktracker_assets.transform.project import run_dbt

USER = "listenbrainz-load"


def _count(conn, sql: str, *args: object) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def test_every_listen_once_whatever_the_export(conn, settings, tmp_path) -> None:
    archive = tmp_path / "listenbrainz_iliekcomputers_1748970000.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("user.json", '{"user_id": 1, "username": "iliekcomputers"}\n')
        zf.writestr("listens/2025/6.jsonl", JSONL.read_bytes())
        zf.writestr(
            "feedback.jsonl", '{"recording_msid": "a", "recording_mbid": null, "score": 1, "created": 1}\n'
        )
    result = process_file(conn, settings, USER, drop_into_inbox(settings, USER, archive))
    assert result.ok, result.problems
    statuses = {f.name.split(":", 1)[1]: (f.status, f.message) for f in result.files}
    assert statuses["listens/2025/6.jsonl"][0] == "loaded"
    assert statuses["user.json"][0] == statuses["feedback.jsonl"][0] == "skipped"
    assert "user.json" in statuses["user.json"][1] and "feedback" in statuses["feedback.jsonl"][1]

    exported = ref.jsonl_listens(JSONL)
    api = ref.api_listens(API)
    loaded = load_source(conn, USER, FileSource(API))
    assert (loaded.status, loaded.inserted) == ("loaded", len(api))
    assert "Not stored (private): user_name." in loaded.message
    private = "select count(*) from bronze.listenbrainz_listens t where user_id = %s and t::text like %s"
    assert _count(conn, private, USER, "%iliekcomputers%") == 0
    in_bronze = "select count(*) from bronze.listenbrainz_listens where user_id = %s"
    assert _count(conn, in_bronze, USER) == len(exported) + len(api)

    # the same listens in the older JSON array export, and the same file again, add nothing
    older = tmp_path / "listenbrainz_iliekcomputers.json"
    older.write_bytes(older_export())
    again = load_source(conn, USER, FileSource(older))
    assert (again.records, again.inserted, again.duplicates) == (len(api), 0, len(api))
    assert load_source(conn, USER, FileSource(API)).status == "already_loaded"
    assert _count(conn, in_bronze, USER) == len(exported) + len(api)

    run_dbt(settings, ["build", "--select", "stg_listenbrainz__listens"])
    every = exported + api
    staged = "select count(*) from silver.stg_listenbrainz__listens where user_id = %s and stamp = %s"
    ends = sum(map(ref.is_spotify_importer_listen, every))
    assert _count(conn, staged, USER, "end") == ends
    assert _count(conn, staged, USER, "start") == len(every) - ends
    ids = "select count(spotify_track_id) from silver.stg_listenbrainz__listens where user_id = %s"
    assert _count(conn, ids, USER) == sum(1 for listen in every if ref.spotify_id(listen))
