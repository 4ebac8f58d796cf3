"""Last.fm and ListenBrainz exports through the real `tracktracker import`, as a person runs it (one
test: the import runs the whole pipeline, Dagster and dbt)."""

from __future__ import annotations

import zipfile

from tests.conftest import cli
from tests.lastfm.test_files import RECENT
from tests.listenbrainz.test_files import JSONL
from tracktracker_assets.warehouse.db import query

USER = "scrobbler-cli"


def test_import_lastfm_and_listenbrainz_exports(settings, tmp_path) -> None:
    archive = tmp_path / "listenbrainz_scrobbler_1748970000.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("user.json", '{"user_id": 7, "username": "scrobbler"}\n')
        zf.writestr("listens/2025/6.jsonl", JSONL.read_bytes())
    code, output = cli("users", "add", USER, "--timezone", "Europe/Amsterdam")
    assert code == 0, output
    code, output = cli("import", USER, str(RECENT), str(archive))
    assert code == 0, output
    assert "playing at export time" in output and "user.json" in output, output

    def counts() -> tuple[int, int]:
        return query(
            settings.database_url,
            "select (select count(*) from bronze.lastfm_scrobbles where user_id = %(u)s), "
            "(select count(*) from bronze.listenbrainz_listens where user_id = %(u)s)",
            {"u": USER},
        )[1][0]

    assert counts() == (2, 2)
    code, output = cli("import", USER, str(RECENT))
    assert code == 0 and "already loaded" in output, output
    assert counts() == (2, 2)
