"""Gold, built from every real export through the CLI, Dagster and dbt, equals a plain independent
Python reading of the same JSON files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import REAL_PEOPLE, cli, history_files_of
from tests.reference import expected_figures, read_events
from tracktracker_assets.warehouse.db import query

PEOPLE = list(REAL_PEOPLE)


def casefolded(rows: list[tuple]) -> list[tuple]:
    return [tuple(v.casefold() if isinstance(v, str) else v for v in row) for row in rows]


def gold(settings, sql: str, *params: object) -> list[tuple]:
    return query(settings.database_url, sql, params)[1]


@pytest.mark.parametrize("person", PEOPLE)
def test_gold_equals_an_independent_reading(real_gold, person: str) -> None:
    user_id, tz = REAL_PEOPLE[person]
    expected = expected_figures(read_events(history_files_of(person)), tz)
    [(events, counted, total_ms, distinct_tracks)] = gold(
        real_gold,
        "select count(*), count(*) filter (where is_counted_play), coalesce(sum(ms_played), 0), "
        "count(distinct track_key) filter (where content_type = 'track') "
        "from gold.fct_plays where user_id = %s",
        user_id,
    )
    assert (events, counted, int(total_ms), distinct_tracks) == (
        expected.events,
        expected.counted,
        expected.total_ms,
        expected.distinct_tracks,
    )
    top_tracks = gold(
        real_gold,
        "select track_name, artist_name, counted_plays from gold.agg_top_tracks "
        "where user_id = %s and period = 'all' and rank <= 5 order by rank",
        user_id,
    )
    # names are spelled as the shared catalog spells them (dim_track, dim_artist: the latest spelling
    # any listener's source used, e.g. another service's "LINKIN PARK"); what ranks is the normalised
    # name, so names compare without case
    assert casefolded(top_tracks) == casefolded(expected.top_tracks)
    top_artists = gold(
        real_gold,
        "select artist_name, counted_plays from gold.agg_top_artists "
        "where user_id = %s and period = 'all' and rank <= 5 order by rank",
        user_id,
    )
    assert casefolded(top_artists) == casefolded(expected.top_artists)
    hours = dict(
        gold(
            real_gold,
            "select local_hour, sum(plays) from gold.agg_hour_weekday where user_id = %s group by 1",
            user_id,
        )
    )
    assert {h: int(n) for h, n in hours.items()} == expected.plays_by_local_hour


def test_local_hours_really_move_for_a_non_utc_listener(real_gold) -> None:
    """Kolkata is UTC+05:30: hours differ from UTC hours, and the half hour shows in local times."""
    rows = gold(
        real_gold,
        "select count(*) filter (where local_hour <> extract(hour from ended_at)), "
        "count(*) filter (where extract(minute from ended_at_local) <> extract(minute from ended_at)) "
        "from gold.fct_plays where user_id = 'khushi'",
    )
    assert rows[0][0] > 1000 and rows[0][1] > 1000


def test_gold_aggregates_agree_with_facts(real_gold) -> None:
    [(facts,)] = gold(real_gold, "select count(*) from gold.fct_plays")
    [(daily,)] = gold(real_gold, "select sum(plays) from gold.agg_daily_listening")
    [(heat,)] = gold(real_gold, "select sum(plays) from gold.agg_hour_weekday")
    [(sessions,)] = gold(real_gold, "select sum(plays) from gold.fct_sessions")
    assert facts == daily == heat == sessions > 40_000


def test_overlapping_and_repeated_imports_add_no_duplicates(real_gold, tmp_path: Path) -> None:
    path = history_files_of("Th1nhNg0")[0]
    rows = json.loads(path.read_text())
    overlap = tmp_path / "Streaming_History_Audio_2024_5.json"
    new_row = dict(rows[0], ts="2026-01-02T03:04:05Z", ms_played=123456)
    overlap.write_text(json.dumps([*rows[1000:], new_row]))  # a later export repeating most rows
    [(before,)] = gold(real_gold, "select count(*) from gold.fct_plays where user_id = 'thinh'")
    code, output = cli("import", "thinh", str(overlap), str(path))
    assert code == 0, output
    assert "already loaded" in output
    [(after,)] = gold(real_gold, "select count(*) from gold.fct_plays where user_id = 'thinh'")
    assert after == before + 1
    # the manifest spans the later export's records, and apart from them the one row it brought
    [(inserted, first, last, new_first, new_last)] = gold(
        real_gold,
        "select inserted, min_ts, max_ts, inserted_min_ts, inserted_max_ts from bronze.loaded_files "
        "where user_id = 'thinh' and file_name = %s",
        overlap.name,
    )
    assert inserted == 1 and first < new_first
    assert new_first == new_last == last == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    # among the real Spotify listeners these imports are about (the other services' test listeners
    # share this warehouse; each service's own rules are tested in its room)
    [(dups,)] = gold(
        real_gold,
        "select count(*) from (select 1 from gold.fct_plays where user_id = any(%s) group by user_id, "
        "ended_at, track_key, ms_played having count(*) > 1) d",
        [user_id for user_id, _ in REAL_PEOPLE.values()],
    )
    assert dups == 0


def test_dagster_checks_pass_on_real_data(real_gold) -> None:
    from tracktracker_assets.orchestration.runs import run_refresh

    outcome = run_refresh(real_gold)
    assert outcome.success and outcome.failed_checks == []
