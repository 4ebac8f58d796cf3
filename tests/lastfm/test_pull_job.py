"""The live pulls ride in the scheduled pull job: one Dagster run pulls a listener's Last.fm and
ListenBrainz accounts (no Spotify consent needed), and a listener without either is skipped quietly."""

from __future__ import annotations

from tests.fakes.lastfm_server import FakeLastfm
from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.lastfm.conftest import templates as lastfm_items
from tests.listenbrainz.conftest import listenbrainz  # noqa: F401  (the fixture)
from tests.listenbrainz.conftest import templates as listenbrainz_items
from tracktracker_assets.orchestration.runs import run_pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import query


def count(table: str, user_id: str) -> int:
    sql = f"select count(*) from {table} where user_id = %s"
    return query(get_settings().database_url, sql, (user_id,))[1][0][0]


def test_one_run_pulls_both_services_and_skips_who_has_neither(
    lastfm: FakeLastfm,
    listenbrainz: FakeListenBrainz,  # noqa: F811  (the fixture imported above)
) -> None:
    lastfm.add_user("JobFM")
    for n in range(7):
        lastfm.scrobble("JobFM", lastfm_items()[n % 3], 1_690_000_000 + 200 * n)
    lastfm.set_now_playing("JobFM", lastfm_items()[0])
    listenbrainz.add_user("job-lb")
    for n in range(4):
        listenbrainz.listen("job-lb", listenbrainz_items()[n], 1_690_000_000 + 300 * n)
    with open_registry(get_settings()) as registry:
        for user_id in ("jobber", "bystander"):
            if registry.get_user(user_id) is None:
                registry.add_user(user_id, timezone="UTC")
        registry.connect_lastfm("jobber", "JobFM")
        registry.connect_listenbrainz("jobber", "job-lb")

    run = run_pull(get_settings(), ["jobber", "bystander"])
    assert run.success, run.failures
    assert run.pull_lines[:2] == [  # one line per listener and service, whatever the partitions
        "jobber (Last.fm): ok, 7 new of 7 items",
        "jobber (ListenBrainz): ok, 4 new of 4 items",
    ]
    assert len(run.pull_lines) == 3
    # named, but with no account anywhere: said why, and nothing was asked of either fake for them
    assert any(line.startswith("bystander: skipped") for line in run.pull_lines)
    assert count("bronze.lastfm_recent_tracks", "jobber") == 7
    assert count("bronze.listenbrainz_api_listens", "jobber") == 4
    assert count("bronze.lastfm_pulls", "bystander") == count("bronze.listenbrainz_pulls", "bystander") == 0

    again = run_pull(get_settings(), ["jobber"])  # a re-pull adds nothing
    assert again.pull_lines == [
        "jobber (Last.fm): ok, 0 new of 0 items",
        "jobber (ListenBrainz): ok, 0 new of 0 items",
    ]
