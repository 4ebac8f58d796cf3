"""The real samples pulled through the fakes, then the two staging models built by dbt (with their unit
and schema tests): one play per scrobble or listen, stamped as the format says, counted by a plain
reading of the samples."""

from __future__ import annotations

import json

import requests

from tests.fakes.lastfm_server import FakeLastfm
from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.lastfm.conftest import lastfm  # noqa: F401  (the fixture)
from tests.lastfm.conftest import templates as lastfm_items
from tests.listenbrainz.conftest import EXPORT_LINES, HAPPY_PATH
from tracktracker_assets.lastfm import pull as lastfm_pull
from tracktracker_assets.listenbrainz import pull as listenbrainz_pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.transform.project import run_dbt
from tracktracker_assets.warehouse.db import query

USER = "staged"


def plain_listens() -> list[dict]:
    listens = json.loads(HAPPY_PATH.read_text())["payload"]["listens"]
    return listens + [json.loads(line) for line in EXPORT_LINES.read_text().splitlines() if line.strip()]


def made_by_the_spotify_importer(listen: dict) -> bool:
    """The ListenBrainz Spotify importer's marks, read from the samples' additional_info by hand."""
    info = listen["track_metadata"].get("additional_info", {})
    newer = info.get("submission_client") == "listenbrainz" and info.get("music_service") == "spotify.com"
    older = info.get("listening_from") == "spotify" and "spotify_album_artist_ids" in info
    return newer or older


def test_real_samples_through_the_pulls_into_staging(
    lastfm: FakeLastfm,  # noqa: F811  (the fixture imported above)
    listenbrainz: FakeListenBrainz,
    conn,
) -> None:
    dated = [item for item in lastfm_items() if "date" in item]
    lastfm.add_user("StagedFM")
    lastfm.set_now_playing("StagedFM", lastfm_items()[0])
    for item in dated:
        lastfm.scrobble("StagedFM", item, int(item["date"]["uts"]))
    listens = plain_listens()
    listenbrainz.add_user("staged-lb")
    for listen in listens:
        listenbrainz.listen("staged-lb", listen, listen["listened_at"])
    with open_registry(get_settings()) as registry, requests.Session() as http:
        if registry.get_user(USER) is None:
            registry.add_user(USER, timezone="UTC")
        registry.connect_lastfm(USER, "StagedFM")
        registry.connect_listenbrainz(USER, "staged-lb")
        assert lastfm_pull.pull(get_settings(), conn, registry, USER, http).inserted == len(dated)
        assert listenbrainz_pull.pull(get_settings(), conn, registry, USER, http).inserted == len(listens)

    # the two models, their tests, and the union of every service's plays over them
    run_dbt(get_settings(), ["build", "--select", "+int_plays__conformed"])

    url = get_settings().database_url
    _, lastfm_rows = query(
        url,
        "select stamp, precision_ms, count(*), count(distinct play_id), count(track_name), "
        "count(artist_name), count(started_at), count(ended_at) from silver.stg_lastfm__recent_tracks "
        "where user_id = %s group by stamp, precision_ms",
        (USER,),
    )
    n = len(dated)
    assert lastfm_rows == [("start", 1000, n, n, n, n, n, 0)]
    _, listen_rows = query(
        url,
        "select stamp, count(*), count(started_at), count(ended_at), count(spotify_track_id), count(isrc) "
        "from silver.stg_listenbrainz__api_listens where user_id = %s group by stamp order by stamp",
        (USER,),
    )
    ends = sum(made_by_the_spotify_importer(listen) for listen in listens)
    with_spotify = sum(
        "open.spotify.com/track/" in listen["track_metadata"].get("additional_info", {}).get("spotify_id", "")
        for listen in listens
    )
    with_isrc = sum(
        bool(listen["track_metadata"].get("additional_info", {}).get("isrc")) for listen in listens
    )
    # every listen of both samples came through the Spotify importer (the unit test has other clients')
    assert ends == len(listens)
    assert listen_rows == [("end", ends, 0, ends, with_spotify, with_isrc)]
    _, conformed = query(
        url,
        "select source, stamp, count(*) from silver.int_plays__conformed where user_id = %s "
        "group by source, stamp order by source",
        (USER,),
    )
    assert conformed == [("lastfm_recent_tracks", "start", n), ("listenbrainz_api_listens", "end", ends)]
