"""`tracktracker import` with the other services' files (the real command, in this process): a plain
YouTube history is a reported no-music load, not an error; a Tidal file with one unparsable row is
refused naming the file, the record and the value, and loads nothing."""

from __future__ import annotations

from tests.conftest import REAL_DATA, cli
from tracktracker_assets.warehouse.db import query

USER = "ytm-cli"
PLAIN = REAL_DATA / "other-platforms" / "NightmareZodiac--watch-history.json"
TIDAL = REAL_DATA / "other-platforms" / "metabrainz--tidal_streaming.csv"


def flat(output: str) -> str:
    return " ".join(output.split())


def test_import_reports_plain_youtube_and_refuses_a_bad_tidal_row(settings) -> None:
    code, output = cli("users", "add", USER, "--timezone", "Asia/Kolkata")
    assert code == 0, output
    code, output = cli("import", USER, str(PLAIN))
    assert code == 0, output
    assert "341 entries are plain YouTube, not YouTube Music, 4 of them Google Ads" in flat(output)
    code, output = cli("import", USER, str(PLAIN))
    assert code == 0 and "already loaded" in output, output

    code, output = cli("import", USER, str(TIDAL))
    assert code != 0, output
    assert TIDAL.name in flat(output) and "line 6 has entry_date 'not-a-date'" in flat(output), output
    counts = query(
        settings.database_url,
        "select (select count(*) from bronze.tidal_streaming where user_id = %(u)s), "
        "(select count(*) from bronze.youtube_music_watch_history where user_id = %(u)s), "
        "(select count(*) from bronze.loaded_files where user_id = %(u)s)",
        {"u": USER},
    )[1][0]
    assert counts == (0, 0, 1)
