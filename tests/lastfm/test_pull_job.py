"""The live pulls ride in the scheduled pull job: one Dagster run pulls a listener's Last.fm and
ListenBrainz accounts (no Spotify consent needed), and a listener without either is skipped quietly."""

from __future__ import annotations

from tests.conftest import cli
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


def test_plays_pulled_only_from_lastfm_and_listenbrainz_start_the_refresh(
    level_gold,
    lastfm: FakeLastfm,
    listenbrainz: FakeListenBrainz,  # noqa: F811  (the fixture imported above)
) -> None:
    """A listener on Last.fm and ListenBrainz alone: their pull writes no file load, yet the refresh
    sensor must see it (else the plays wait in bronze for someone's next file), and a refresh takes
    every pulled item into gold's lineage once."""
    from dagster import build_sensor_context

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.resources import WarehouseResource
    from tracktracker_assets.transform.sensors import bronze_changed_sensor

    def sensor():
        context = build_sensor_context(
            instance=get_instance(level_gold), resources={"warehouse": WarehouseResource()}
        )
        return bronze_changed_sensor(context)

    assert sensor().__class__.__name__ == "SkipReason"  # level_gold took in every earlier load
    lastfm.add_user("OnlyLiveFM")
    for n in range(5):  # a day before the listens below: eight plays, none of them one event
        lastfm.scrobble("OnlyLiveFM", lastfm_items()[n % 3], 1_700_000_000 + 600 * n)
    listenbrainz.add_user("only-live-lb")
    for n in range(3):
        listenbrainz.listen("only-live-lb", listenbrainz_items()[n], 1_700_086_400 + 600 * n)
    with open_registry(get_settings()) as registry:
        if registry.get_user("only-live") is None:
            registry.add_user("only-live", timezone="UTC")
        registry.connect_lastfm("only-live", "OnlyLiveFM")
        registry.connect_listenbrainz("only-live", "only-live-lb")

    try:
        _pulled_plays_reach_gold(level_gold, sensor)
    finally:  # no listener of the fakes stays connected once they are gone
        assert cli("users", "remove", "only-live", "--yes")[0] == 0


def _pulled_plays_reach_gold(level_gold, sensor) -> None:
    from tracktracker_assets.orchestration.runs import run_refresh
    from tracktracker_assets.transform.sensors import PENDING_TAG
    from tracktracker_assets.warehouse.db import connect
    from tracktracker_assets.warehouse.status import users_with_pending_loads

    assert run_pull(get_settings(), ["only-live"]).success
    request = sensor()
    assert request.__class__.__name__ == "RunRequest", request
    conn = connect(level_gold.database_url)
    try:
        newest = query(
            level_gold.database_url,
            "select greatest((select max(load_id) from bronze.lastfm_recent_tracks), "
            "(select max(load_id) from bronze.listenbrainz_api_listens))",
        )[1][0][0]
        assert request.tags[PENDING_TAG] == str(newest)
        assert users_with_pending_loads(conn) == {"only-live"}
    finally:
        conn.close()

    assert run_refresh(level_gold).success
    assert sensor().__class__.__name__ == "SkipReason"
    lineage = query(
        level_gold.database_url,
        "select source, count(*) from gold.fct_play_sources where user_id = 'only-live' "
        "group by 1 order by 1",
    )[1]
    assert lineage == [("lastfm_recent_tracks", 5), ("listenbrainz_api_listens", 3)]
    plays = query(level_gold.database_url, "select count(*) from gold.fct_plays where user_id = 'only-live'")
    assert plays[1] == [(8,)]
