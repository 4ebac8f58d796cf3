"""Recently-played pulls through the real Dagster job and the real spotipy client against the fake Web
API: cursors, faults per user, token rotation and secrecy, the gap check, and cross-source dedupe."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.spotify.conftest import connect_directly
from tracktracker_assets.orchestration.runs import run_pull
from tracktracker_assets.services.local import open_registry
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import query

RECENT = "/v1/me/player/recently-played"


def stored(user_id: str) -> int:
    return query(
        get_settings().database_url,
        "select count(*) from bronze.spotify_recently_played where user_id = %s",
        (user_id,),
    )[1][0][0]


def outcome_of(run, user_id: str) -> str:
    return next(line for line in run.pull_lines if line.startswith(f"{user_id}:"))


def test_pulls_over_several_ticks_advance_the_cursor_without_duplicates(fake) -> None:
    users = ["tick-a", "tick-b", "tick-c"]
    for user_id in users:
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", 30, end=datetime.now(UTC) - timedelta(hours=2))
    first = run_pull(get_settings(), users)
    assert first.success, first.failures
    assert [stored(u) for u in users] == [30, 30, 30]
    fake.clear_requests()
    for user_id in users:
        fake.generate_plays(f"sp-{user_id}", 12, end=datetime.now(UTC))
    second = run_pull(get_settings(), users)
    assert second.success and [stored(u) for u in users] == [42, 42, 42]
    # the second tick asked only for what is newer than the newest stored play
    for user_id in users:
        [request] = fake.requests_to(RECENT, user=f"sp-{user_id}")
        newest = query(
            get_settings().database_url,
            "select max(played_at) from bronze.spotify_recently_played "
            "where user_id = %s and load_id < (select max(load_id) from bronze.spotify_recently_played "
            "where user_id = %s)",
            (user_id, user_id),
        )[1][0][0]
        assert int(request.query["after"]) == int(newest.timestamp() * 1000)
    third = run_pull(get_settings(), users)  # nothing new: a harmless no-op
    assert third.success and [stored(u) for u in users] == [42, 42, 42]


def test_a_429_asking_an_hour_neither_hangs_nor_blocks_others(fake) -> None:
    users = ["slow-a", "slow-b", "slow-c"]
    for user_id in users:
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", 5)
    fake.inject_fault(RECENT, 429, user="sp-slow-b", retry_after=3600, times=5)
    started = time.monotonic()
    run = run_pull(get_settings(), users)
    assert time.monotonic() - started < 30
    assert run.success
    assert "deferred" in outcome_of(run, "slow-b") and "3600" in outcome_of(run, "slow-b")
    assert stored("slow-a") == stored("slow-c") == 5 and stored("slow-b") == 0
    with open_registry(get_settings()) as registry:
        assert registry.require_user("slow-b").status == "active"  # deferred, not broken
    fake.clear_faults()
    assert run_pull(get_settings(), ["slow-b"]).success and stored("slow-b") == 5


def test_a_revoked_token_marks_that_user_needs_reauth_while_others_load(fake) -> None:
    users = ["revoked-a", "revoked-b"]
    for user_id in users:
        connect_directly(fake, user_id)
        fake.generate_plays(f"sp-{user_id}", 7)
    fake.revoke_tokens("sp-revoked-b")
    run = run_pull(get_settings(), users)
    assert run.success
    assert "needs_reauth" in outcome_of(run, "revoked-b") and "users connect" in outcome_of(run, "revoked-b")
    assert stored("revoked-a") == 7 and stored("revoked-b") == 0
    with open_registry(get_settings()) as registry:
        user = registry.require_user("revoked-b")
    assert user.status == "needs_reauth" and "invalid_grant" in (user.last_error or "")
    _, output = cli("status")
    cells = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│ revoked-")
    }
    # per-user freshness (user, status, plays, last play, last import, last pull, problem): the
    # working user was pulled; the revoked one must reconnect and says why
    assert cells["revoked-a"][1] == "active" and re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d", cells["revoked-a"][5]
    )
    assert cells["revoked-b"][1] == "needs_reauth" and cells["revoked-b"][5] == "-"
    assert "invalid_grant" in cells["revoked-b"][6]
    # later ticks leave the user alone until they reconnect (asked for by name, they are told why)
    fake.clear_requests()
    again = run_pull(get_settings(), users)
    assert outcome_of(again, "revoked-b").startswith("revoked-b: skipped") and "users connect" in (
        outcome_of(again, "revoked-b")
    )
    assert fake.requests_to("*", user="sp-revoked-b") == []
    assert not any(line.startswith("revoked-b") for line in run_pull(get_settings()).pull_lines)


def test_a_rotated_refresh_token_is_persisted_and_the_old_one_dropped(fake) -> None:
    old = connect_directly(fake, "rotating", rotate=True)
    fake.generate_plays("sp-rotating", 3)
    assert run_pull(get_settings(), ["rotating"]).success
    with open_registry(get_settings()) as registry:
        new = registry.load_token("rotating")["refresh_token"]
    assert new != old
    # the old refresh token is dead at Spotify; the next refresh must use the new one
    fake.advance_clock(2 * 3600)
    fake.generate_plays("sp-rotating", 2)
    assert run_pull(get_settings(), ["rotating"]).success and stored("rotating") == 5
    refreshes = [
        r for r in fake.requests_to("/api/token") if (r.form or {}).get("grant_type") == "refresh_token"
    ]
    assert refreshes[-1].form["refresh_token"] != old


def test_tokens_are_unreadable_at_rest_and_absent_from_logs(fake) -> None:
    import io
    import logging

    # every Python log record at DEBUG, whoever emits it (spotipy logs request bodies at DEBUG)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        refresh_token = connect_directly(fake, "secretive", rotate=True)
        fake.generate_plays("sp-secretive", 4)
        run = run_pull(get_settings(), ["secretive"])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    with open_registry(get_settings()) as registry:
        raw = json.dumps(registry.tokens.find_one({"user_id": "secretive"}), default=str)
        current = registry.load_token("secretive")
    secrets = [refresh_token, current["refresh_token"], current["access_token"]]
    assert not any(s in raw for s in secrets)
    from tracktracker_assets.orchestration.instance import get_instance

    logs = " ".join(str(entry) for entry in get_instance(get_settings()).all_logs(run.run_id))
    captured = buffer.getvalue()
    assert captured  # the handler did see the run's logging
    compute = " ".join(p.read_text(errors="replace") for p in get_settings().dagster_home.rglob("*.err"))
    for secret in secrets:
        assert secret not in logs and secret not in captured and secret not in compute


def test_the_gap_check_fires_on_a_real_gap_and_stays_quiet_otherwise(fake) -> None:
    connect_directly(fake, "gappy")
    fake.visible_plays = 50  # the real endpoint: only the newest 50 are reachable
    try:
        fake.generate_plays("sp-gappy", 10, end=datetime.now(UTC) - timedelta(days=1))
        quiet = run_pull(get_settings(), ["gappy"])
        assert quiet.success and not any("no_plays_lost" in c for c in quiet.failed_checks)
        fake.generate_plays("sp-gappy", 120)  # more than 50 plays before the next poll
        gap = run_pull(get_settings(), ["gappy"])
        assert any("no_plays_lost_between_polls" in c for c in gap.failed_checks)
        assert "lost between polls" in outcome_of(gap, "gappy")
        [(seconds,)] = query(
            get_settings().database_url,
            "select gap_seconds from bronze.spotify_pulls "
            "where user_id = 'gappy' order by pulled_at desc limit 1",
        )[1]
        assert seconds > 3600  # a day ago to the oldest of the newest 50
    finally:
        fake.visible_plays = None


def test_api_plays_overlapping_a_later_export_count_once_in_gold(fake, real_gold, tmp_path: Path) -> None:
    connect_directly(fake, "overlap-api")
    plays = fake.generate_plays("sp-overlap-api", 20, end=datetime.now(UTC) - timedelta(hours=1))
    assert run_pull(get_settings(), ["overlap-api"]).success
    code, output = cli("pull", "overlap-api")  # also refreshes silver and gold
    assert code == 0, output
    # a later export of the same account: the same 20 plays (end time to the second, real ms_played)
    # plus 5 older ones the API never saw
    rows = []
    for play in plays:
        track = fake.catalog.track(play.track_id)
        rows.append(
            {
                "ts": play.played_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "platform": "android",
                "ms_played": track["duration_ms"] - 1500,
                "conn_country": "ES",
                "master_metadata_track_name": track["name"],
                "master_metadata_album_artist_name": track["artists"][0]["name"],
                "master_metadata_album_album_name": track["album"]["name"],
                "spotify_track_uri": track["uri"],
                "reason_start": "trackdone",
                "reason_end": "trackdone",
                "shuffle": False,
                "skipped": False,
                "offline": False,
                "offline_timestamp": 0,
                "incognito_mode": False,
            }
        )
    for i in range(5):
        rows.append(dict(rows[0], ts=f"2024-01-0{i + 1}T10:00:00Z", ms_played=180000 + i))
    export = tmp_path / "Streaming_History_Audio_2025.json"
    export.write_text(json.dumps(rows))
    code, output = cli("import", "overlap-api", str(export))
    assert code == 0, output
    [(events, both)] = query(
        get_settings().database_url,
        "select count(*), count(*) filter (where sources = 'spotify_api,spotify_extended') "
        "from gold.fct_plays where user_id = 'overlap-api'",
    )[1]
    assert (events, both) == (25, 20)
    [(estimated,)] = query(
        get_settings().database_url,
        "select count(*) from gold.fct_plays where user_id = 'overlap-api' and is_ms_played_estimated",
    )[1]
    assert estimated == 0  # the export's real ms_played won


@pytest.fixture(autouse=True)
def _no_leftover_faults(fake):
    yield
    fake.clear_faults()


def test_a_new_connection_is_pulled_at_once_and_only_once(fake) -> None:
    """The sensor asks for a first pull of a listener who just connected, once per consent."""
    from dagster import build_sensor_context

    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.resources import RegistryResource
    from tracktracker_assets.orchestration.runs import ensure_partitions
    from tracktracker_assets.spotify.sensors import new_connection_sensor

    settings = get_settings()
    instance = get_instance(settings)

    def evaluate() -> list:
        context = build_sensor_context(instance=instance, resources={"registry": RegistryResource()})
        result = new_connection_sensor(context)
        return [r for r in getattr(result, "run_requests", None) or [] if r.partition_key == "fresh-one"]

    connect_directly(fake, "fresh-one")
    fake.generate_plays("sp-fresh-one", 7, end=datetime.now(UTC))
    assert evaluate() == []  # no partition yet: the registry sensor adds it first
    ensure_partitions(settings, ["fresh-one"])
    [request] = evaluate()
    assert request.tags["tracktracker/trigger"] == "new-connection"
    assert run_pull(settings, ["fresh-one"]).success and stored("fresh-one") == 7
    assert evaluate() == []  # pulled since the consent: the schedule takes over
    connect_directly(fake, "fresh-one", "sp-fresh-one-again")  # reconnect: a new consent
    [again] = evaluate()
    assert again.run_key != request.run_key
