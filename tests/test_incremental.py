"""Incremental refreshes give exactly what a full rebuild gives, and touch only what changed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import cli, history_files_of
from tracktracker_assets.transform.project import run_dbt
from tracktracker_assets.warehouse.db import connect, query

# bookkeeping of loads: which batch wrote a row (details_load_id: dim_track's last change of a
# track's genres or year), not what the row says
VOLATILE = {"_batch_load_id", "refreshed_at", "load_id", "details_load_id"}


def fingerprint(settings) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of every gold table's content."""
    url = settings.database_url
    tables = [
        r[0]
        for r in query(
            url,
            "select table_name from information_schema.tables "
            "where table_schema = 'gold' and table_type = 'BASE TABLE'",
        )[1]
    ]
    result = {}
    for table in sorted(tables):
        columns = [
            c
            for c in query(
                url,
                "select column_name from information_schema.columns where "
                "table_schema = 'gold' and table_name = %s order by ordinal_position",
                (table,),
            )[1]
        ]
        keep = ", ".join(c[0] for c in columns if c[0] not in VOLATILE)
        [(count, digest)] = query(
            url,
            f"select count(*), coalesce(md5(string_agg(md5(row({keep})::text), '' "
            f"order by md5(row({keep})::text))), '') from gold.{table}",
        )[1]
        result[table] = (count, digest)
    return result


def test_incremental_equals_full_rebuild(level_gold, tmp_path: Path) -> None:
    # one more incremental step first: a new export with a few new plays for a listener with a history.
    # A listener of this test's own (mica's history under another name), erased at the end: the real
    # listeners' gold must stay what their files say for the files that compare it with them.
    user = "incremental-step"
    history = history_files_of("mica-92")[0]
    code, output = cli("users", "add", user, "--timezone", "Pacific/Pago_Pago")
    assert code == 0, output
    try:
        code, output = cli("import", user, str(history))
        assert code == 0, output
        rows = json.loads(history.read_text())
        extra = tmp_path / "Streaming_History_Audio_2025_1.json"
        moved = [dict(r, ts=f"2025-03-0{1 + i % 5}T1{i % 10}:00:00Z") for i, r in enumerate(rows[:50])]
        extra.write_text(json.dumps(moved))
        code, output = cli("import", user, str(extra))
        assert code == 0, output
        changed_users = query(
            level_gold.database_url,
            "select distinct user_id from gold.fct_plays where "
            "_batch_load_id = (select max(_batch_load_id) from gold.fct_plays)",
        )[1]
        assert changed_users == [(user,)]  # the refresh rewrote only that listener's affected days
        # then a move 25 hours east (UTC-11 to UTC+14): every local day and hour moves, by up to two
        # days. A play alone in its week at 23:30 in Pago Pago is at 00:30 two days later in Kiritimati:
        # the day and the week it leaves must lose it.
        alone = tmp_path / "Streaming_History_Audio_2025_2.json"
        alone.write_text(json.dumps([dict(rows[0], ts="2025-06-15T10:30:00Z")]))
        code, output = cli("import", user, str(alone))
        assert code == 0, output
        url = level_gold.database_url
        day_of = "select local_date::text from gold.fct_plays where user_id = %s and ended_at = %s"
        alone_at = "2025-06-15 10:30Z"
        assert query(url, day_of, (user, alone_at))[1] == [("2025-06-14",)]
        code, output = cli("users", "set", user, "--timezone", "Pacific/Kiritimati")
        assert code == 0 and "Pacific/Kiritimati (was Pacific/Pago_Pago)" in output, output
        assert query(url, day_of, (user, alone_at))[1] == [("2025-06-16",)]
        [(elsewhere, plays)] = query(
            url,
            "select count(*) filter (where local_date <> (ended_at at time zone 'Pacific/Kiritimati')::date),"
            " count(*) from gold.fct_plays where user_id = %s",
            (user,),
        )[1]
        assert elsewhere == 0 and plays > 3000
        days = "select local_date::text from gold.agg_daily_listening where user_id = %s order by 1"
        assert (
            query(url, days, (user,))[1]
            == query(
                url,
                "select distinct local_date::text from gold.fct_plays where user_id = %s order by 1",
                (user,),
            )[1]
        )
        incremental = fingerprint(level_gold)
        run_dbt(level_gold, ["build", "--full-refresh", "--exclude", "test_type:unit"])
        full = fingerprint(level_gold)
        differing = {t for t in full if full[t] != incremental.get(t)}
        assert not differing, {t: (incremental.get(t), full[t]) for t in differing}
    finally:
        assert cli("users", "remove", user, "--yes")[0] == 0


def test_dbt_unit_tests_pass(real_gold) -> None:
    # dbt reads the columns of a unit test's inputs from their relations: the project must be built
    result = run_dbt(real_gold, ["test", "--select", "test_type:unit"])  # raises on any failure
    # at least ours (plays: 7 dedupe rules, 1 conformed mapping, 1 staging); service rooms add theirs
    passed = re.search(r"PASS=(\d+) ", result.stdout)
    assert passed and int(passed.group(1)) >= 9, result.stdout[-2000:]


def test_a_large_build_is_vacuumed_and_analyzed_right_after(real_gold) -> None:
    """What a build wrote in bulk is vacuumed at once (not by autovacuum during the next refresh)."""
    from tracktracker_assets.warehouse.db import connection
    from tracktracker_assets.warehouse.maintenance import vacuum_after_bulk_writes

    with connection(real_gold.database_url) as conn, conn.cursor() as cur:
        cur.execute("create table silver.bulk_probe as select g as n from generate_series(1, 150000) as g")
        # a build's unlogged artefact (the dedupe's match rows), rebuilt by the next build: left alone
        cur.execute(
            "create unlogged table silver.bulk_artefact as select g as n from generate_series(1, 150000) as g"
        )
        # a backend reports its counts at most once a second (else ~10 s later, when idle): without this,
        # the rows could still be unreported when the vacuum looks for them
        cur.execute("select pg_stat_force_next_flush()")
    try:
        vacuumed = vacuum_after_bulk_writes(real_gold)
        assert "silver.bulk_probe" in vacuumed and "silver.bulk_artefact" not in vacuumed
        with connection(real_gold.database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "select last_vacuum is not null, last_analyze is not null, n_live_tup "
                "from pg_stat_user_tables where schemaname = 'silver' and relname = 'bulk_probe'"
            )
            assert cur.fetchone() == (True, True, 150000)
        assert "silver.bulk_probe" not in vacuum_after_bulk_writes(real_gold)  # nothing new since
    finally:
        with connection(real_gold.database_url) as conn, conn.cursor() as cur:
            cur.execute("drop table silver.bulk_probe, silver.bulk_artefact")


def test_refresh_leaves_out_staging_tables_no_new_load_reaches(level_gold, monkeypatch) -> None:
    """A refresh runs (and tests) only the staging tables kept by load that a new load reaches (level_gold:
    a load other files left pending, a Last.fm pull say, would reach a table asserted left out). What
    it records of each model, and its vacuum of a table written in bulk as soon as the model is done."""
    from dagster import DagsterEventType, EventRecordsFilter
    from rich.console import Console

    from tests.test_one_play_once import PROBE, _erase_probe, _load_probe
    from tracktracker_assets.orchestration.instance import get_instance
    from tracktracker_assets.orchestration.pipeline import refresh_if_behind
    from tracktracker_assets.orchestration.runs import run_refresh
    from tracktracker_assets.transform import assets
    from tracktracker_assets.transform.project import ensure_manifest
    from tracktracker_assets.transform.untouched import staged_by_load, untouched_staging
    from tracktracker_assets.warehouse.build_state import STAGED_BY_LOAD, set_state
    from tracktracker_assets.warehouse.db import connect

    manifest = ensure_manifest(level_gold)
    staged = {m.model for m in staged_by_load(json.loads(manifest.read_text()))}
    spotify_plays = {f"stg_spotify__{t}" for t in ("extended_history", "account_history", "recently_played")}
    unused = {
        "stg_lastfm__scrobbles",
        "stg_lastfm__recent_tracks",
        "stg_listenbrainz__listens",
        "stg_tidal__streaming",
    }
    assert spotify_plays | unused <= staged
    assert not {"int_plays__deduplicated", "fct_plays"} & staged  # only tables that read one bronze table
    assert unused <= set(untouched_staging(level_gold, manifest))

    url = level_gold.database_url
    instance = get_instance(level_gold)
    before = instance.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION), limit=1, ascending=False
    )
    after_id = before[0].storage_id if before else 0
    _load_probe(url)  # new loads in the three Spotify play tables only
    try:
        untouched = set(untouched_staging(level_gold, manifest))
        assert not spotify_plays & untouched
        assert unused <= untouched
        # the probe's few rows stand for a bulk write here: each table written is vacuumed
        monkeypatch.setattr(assets, "BULK_ROWS", 1)
        assert refresh_if_behind(level_gold, Console(quiet=True))
        monkeypatch.undo()
        # its dbt logged each result at the default level, no statement, and wrote no JSON artifacts
        runs = [path for path in level_gold.dbt_target_dir.glob("dbt_silver_gold-*") if path.is_dir()]
        newest = max(runs, key=lambda path: path.stat().st_mtime)
        dbt_log = (newest / "dbt.log").read_text()
        assert "OK created sql incremental model silver.stg_spotify__extended_history" in dbt_log
        assert '"level": "debug"' not in dbt_log
        assert not (newest / "run_results.json").exists() and not (newest / "manifest.json").exists()
        records = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION, after_cursor=after_id)
        )
        built = {record.asset_key.path[-1] for record in records}
        assert spotify_plays <= built and "fct_plays" in built
        # nor the match rows only a whole build of the dedupe reads (dbt/macros/match_rows.sql)
        assert not {"int_plays__matchable", "int_plays__match_probes"} & built
        # each table's rows, as PostgreSQL counted them when dbt reported the model (a silver model's
        # name holds "__", as its output's name joins its key's parts with): the live rows its last
        # analyze estimated from a sample, plus those written since, so near the count, not equal
        recorded = {
            tuple(record.asset_key.path): record.asset_materialization.metadata["row_count"].value
            for record in records
            if "row_count" in record.asset_materialization.metadata
        }
        tables = ("silver.stg_spotify__extended_history", "silver.int_plays__deduplicated", "gold.fct_plays")
        for table in tables:
            [(rows,)] = query(url, f"select count(*) from {table}")[1]
            assert abs(recorded[tuple(table.split("."))] - rows) <= rows * 0.1, (table, rows)
        # the staging table written first was vacuumed while dbt went on: before the facts were reported
        [(vacuumed,)] = query(
            url,
            "select last_vacuum from pg_stat_user_tables "
            "where schemaname = 'silver' and relname = 'stg_spotify__extended_history'",
        )[1]
        [facts_reported] = [
            record.timestamp for record in records if record.asset_key.path == ["gold", "fct_plays"]
        ]
        assert vacuumed is not None and vacuumed.timestamp() < facts_reported
        assert not unused & built
        # what was left out had nothing to do: the probe's plays are in gold, nothing else moved
        assert query(url, "select count(*) from gold.fct_plays where user_id = %s", (PROBE,))[1] == [(4,)]
        assert unused <= set(untouched_staging(level_gold, manifest))

        # a staging model or macro changed since the last build (its stamp differs): every one runs
        # once (an incremental model takes a new column only when it runs), and is stamped again
        conn = connect(url)
        try:
            set_state(conn, STAGED_BY_LOAD, "a build of other models")
        finally:
            conn.close()
        assert untouched_staging(level_gold, manifest) == []
        last = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION), limit=1, ascending=False
        )[0].storage_id
        assert run_refresh(level_gold).success
        rebuilt = {
            record.asset_key.path[-1]
            for record in instance.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION, after_cursor=last)
            )
        }
        assert staged <= rebuilt
        assert unused <= set(untouched_staging(level_gold, manifest))
    finally:
        _erase_probe(url)


WATERMARK_PROBE = "watermark-probe"


def _load_plays(url: str, ended: list[datetime]) -> None:
    """One load of WATERMARK_PROBE's plays (a track each), straight into bronze, in years no real
    export reaches: no other listener shares their weeks."""
    from tracktracker_assets.warehouse.db import connect

    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("select nextval('bronze.load_id_seq')")
            load_id = cur.fetchone()[0]
            for at in ended:
                cur.execute(
                    "insert into bronze.spotify_extended_history (user_id, ts, ms_played, "
                    "master_metadata_track_name, master_metadata_album_artist_name, spotify_track_uri, "
                    "load_id) values (%s, %s, 200000, 'Watermark Song', 'Watermark Artist', "
                    "'spotify:track:0000000000000000000009', %s)",
                    (WATERMARK_PROBE, at, load_id),
                )
            # as a file's import records it: a load in the ledger is what starts a refresh
            cur.execute(
                "insert into bronze.loaded_files (user_id, sha256, file_name, format, bytes, records, "
                "inserted, duplicates, load_id) values (%s, md5(%s::text), 'watermark.json', "
                "'spotify_extended', 1, %s, %s, 0, %s)",
                (WATERMARK_PROBE, load_id, len(ended), len(ended), load_id),
            )
        conn.commit()
    finally:
        conn.close()


def _newest_compiled(settings, model_path: str) -> str:
    runs = [path for path in settings.dbt_target_dir.glob("dbt_silver_gold-*") if path.is_dir()]
    newest = max(runs, key=lambda path: path.stat().st_mtime)
    return (newest / "compiled" / "tracktracker" / "models" / model_path).read_text()


def test_a_batch_that_leaves_a_model_no_row_is_not_recomputed_by_the_next(level_gold) -> None:
    """Global trends rank only weeks with enough listeners: one listener's plays in weeks nobody else
    played leave global_rank_weekly without a row of their batch. The batch it took in is kept apart
    (bronze.dbt_state), so the next refresh recomputes the weeks of newer plays only, not again those of
    every batch since the model's last row (on an install of one or two listeners: all of history, on
    every refresh). Consecutive weeks are recomputed as one date range; and the dedupe's incremental
    select keeps no copy of history (a CTE read twice is stored by PostgreSQL unless told otherwise)."""
    from rich.console import Console

    from tests.test_one_play_once import _erase_probe
    from tracktracker_assets.orchestration.pipeline import refresh_if_behind

    url = level_gold.database_url
    newest_batch = "select max(_batch_load_id)::text from gold.fct_plays"
    taken_in = "select value from bronze.dbt_state where key = 'batch_taken_in:gold.global_rank_weekly'"
    try:
        _load_plays(url, [datetime(2001, 1, 3, 12, tzinfo=UTC)])
        assert refresh_if_behind(level_gold, Console(quiet=True))
        probe_plays = "select count(*) from gold.fct_plays where user_id = %s"
        assert query(url, probe_plays, (WATERMARK_PROBE,))[1] == [(1,)]
        early_weeks = "select count(*) from gold.global_rank_weekly where week_start < '2002-01-01'"
        assert query(url, early_weeks)[1] == [(0,)]

        # three consecutive weeks of June: recomputed as one range, and January's week not again
        _load_plays(url, [datetime(2001, 6, day, 12, tzinfo=UTC) for day in (6, 13, 20)])
        assert refresh_if_behind(level_gold, Console(quiet=True))
        ranks = _newest_compiled(level_gold, "marts/global/global_rank_weekly.sql")
        week_range = r"f\.local_date >= '([\d-]+)'::date and f\.local_date < '([\d-]+)'::date \+ 7"
        weeks = re.findall(week_range, ranks)
        assert weeks == [("2001-06-04", "2001-06-18")]
        assert query(url, early_weeks)[1] == [(0,)]
        assert query(url, taken_in)[1] == query(url, newest_batch)[1]

        dedupe = _newest_compiled(level_gold, "intermediate/int_plays__deduplicated.sql")
        plan = "\n".join(row[0] for row in query(url, "explain " + dedupe)[1])
        assert "CTE staged" not in plan, plan
    finally:
        _erase_probe(url, WATERMARK_PROBE)


def test_a_new_play_recomputes_its_month_of_genres_and_decades_not_the_history(level_gold) -> None:
    """agg_genres and agg_release_decades compute again the months of new plays and the months in which a
    track whose genres or release year changed was played (dim_track.details_load_id), not every month
    of each listener who ever played a track the new plays touched: a new play of a track touches its
    dimension row (last_played_at), which is no change of its genres. Incremental = full rebuild
    (test_incremental_equals_full_rebuild) and genres arriving after the plays (tests/musicbrainz/)
    are checked elsewhere."""
    from rich.console import Console

    from tests.test_one_play_once import _erase_probe
    from tracktracker_assets.orchestration.pipeline import refresh_if_behind

    url = level_gold.database_url
    months = "select month::text, _batch_load_id, plays from gold.{table} where user_id = %s order by month"
    try:
        _load_plays(url, [datetime(2001, 1, 3, 12, tzinfo=UTC), datetime(2001, 6, 6, 12, tzinfo=UTC)])
        assert refresh_if_behind(level_gold, Console(quiet=True))
        before = {t: query(url, months.format(table=t), (WATERMARK_PROBE,))[1] for t in TABLES_BY_MONTH}
        assert [m for m, *_ in before["agg_genres"]] == ["2001-01-01", "2001-06-01"]

        # the same track again in June: June is computed again, January is left as it was
        _load_plays(url, [datetime(2001, 6, 13, 12, tzinfo=UTC)])
        assert refresh_if_behind(level_gold, Console(quiet=True))
        month_run = (
            r"f\.user_id = '([^']+)' and f\.local_date >= '([\d-]+)'::date"
            r"\s+and f\.local_date < '([\d-]+)'::date"
        )
        for table in TABLES_BY_MONTH:
            compiled = _newest_compiled(level_gold, f"marts/listening/{table}.sql")
            assert re.findall(month_run, compiled) == [(WATERMARK_PROBE, "2001-06-01", "2001-07-01")], table
            january, june = before[table]
            after = query(url, months.format(table=table), (WATERMARK_PROBE,))[1]
            assert after[0] == january, table  # not recomputed: its batch is the one it had
            assert after[1][0] == june[0] and after[1][1] > june[1] and after[1][2] == june[2] + 1, table
    finally:
        _erase_probe(url, WATERMARK_PROBE)


TABLES_BY_MONTH = ("agg_genres", "agg_release_decades")


def test_an_aggregate_behind_by_two_batches_recomputes_the_days_of_both(level_gold) -> None:
    """The per-user aggregates read the days they recompute from bronze.dbt_fact_days, where the facts'
    post-hook keeps each listener-day with the newest batch that wrote it. An aggregate left out of one
    refresh (a failed node, say) is behind by that batch: the next refresh recomputes the days of both
    batches, not only the newest one's, and the days kept are those of the facts."""
    from rich.console import Console

    from tests.test_one_play_once import _erase_probe
    from tracktracker_assets.orchestration.pipeline import refresh_if_behind

    url = level_gold.database_url
    daily = "select local_date::text, plays from gold.agg_daily_listening where user_id = %s order by 1"
    kept = "select local_date::text, batch_load_id from bronze.dbt_fact_days where user_id = %s order by 1"
    written = (
        "select local_date::text, max(_batch_load_id) from gold.fct_plays where user_id = %s "
        "group by local_date order by 1"
    )
    try:
        _load_plays(url, [datetime(2001, 1, 3, 12, tzinfo=UTC)])
        run_dbt(level_gold, ["run", "--exclude", "agg_daily_listening"])
        assert query(url, daily, (WATERMARK_PROBE,))[1] == []
        _load_plays(url, [datetime(2001, 6, 6, 12, tzinfo=UTC), datetime(2001, 6, 6, 13, tzinfo=UTC)])
        assert refresh_if_behind(level_gold, Console(quiet=True))

        assert query(url, daily, (WATERMARK_PROBE,))[1] == [("2001-01-03", 1), ("2001-06-06", 2)]
        days = query(url, kept, (WATERMARK_PROBE,))[1]
        assert days == query(url, written, (WATERMARK_PROBE,))[1]
        assert days[0][1] < days[1][1]  # each day with the batch that wrote it
    finally:
        _erase_probe(url, WATERMARK_PROBE)
    assert query(url, kept, (WATERMARK_PROBE,))[1] == []  # erasure takes the listener's days too


def _staged_model(name: str, source: str) -> tuple[str, dict, dict]:
    """A staging model kept by load, as the manifest describes one, reading probe_bronze.<source>."""
    model = {
        "resource_type": "model",
        "name": name,
        "alias": name,
        "schema": "probe_staging",
        "fqn": ["tracktracker", "staging", "probe", name],
        "config": {"materialized": "incremental"},
        "checksum": {"checksum": name},
        "depends_on": {"nodes": [f"source.tracktracker.probe.{source}"]},
        "raw_code": "select * from {{ source('probe', '" + source + "') }} where {{ only_new_loads() }}",
    }
    src = {"schema": "probe_bronze", "identifier": source, "name": source}
    return f"model.tracktracker.{name}", model, src


def _test_of(*models: str, generic: bool = True) -> dict:
    return {
        "resource_type": "test",
        "name": f"not_null_{'_'.join(models)}" if generic else f"singular_{'_'.join(models)}",
        "test_metadata": {"name": "not_null"} if generic else None,
        "depends_on": {"nodes": [f"model.tracktracker.{m}" for m in models]},
    }


def test_tests_of_staging_tables_without_a_row_are_left_out(settings, tmp_path) -> None:
    """A first build runs every staging model, most for services nobody used: the data tests that read
    only such models (no row staged, none in bronze, none in what they read) can only pass and are left
    out; a model with a row in bronze, or staged, keeps its tests, and so does a test that also reads
    another model, and so does a model outside staging."""
    from tracktracker_assets.transform.untouched import tests_of_empty_staging
    from tracktracker_assets.warehouse.db import connect

    nodes, sources = {}, {}
    for name, source in (("stg_none", "none"), ("stg_bronze", "bronze"), ("stg_staged", "staged")):
        uid, model, src = _staged_model(name, source)
        nodes[uid] = model
        sources[f"source.tracktracker.probe.{source}"] = src
    # a view over an empty bronze table and the staging model above (not built yet: a first build)
    nodes["model.tracktracker.stg_view"] = {
        "resource_type": "model",
        "name": "stg_view",
        "alias": "stg_view",
        "schema": "probe_staging",
        "fqn": ["tracktracker", "staging", "probe", "stg_view"],
        "config": {"materialized": "view"},
        "depends_on": {"nodes": ["source.tracktracker.probe.none", "model.tracktracker.stg_none"]},
    }
    nodes["model.tracktracker.fct_probe"] = {
        "resource_type": "model",
        "name": "fct_probe",
        "alias": "fct_probe",
        "schema": "probe_staging",
        "fqn": ["tracktracker", "marts", "fct_probe"],
        "config": {},
        "depends_on": {"nodes": ["model.tracktracker.stg_none"]},
    }
    for test in (
        _test_of("stg_none"),
        _test_of("stg_bronze"),
        _test_of("stg_staged"),
        _test_of("stg_view"),
        _test_of("fct_probe"),
        _test_of("stg_none", "fct_probe"),
        _test_of("stg_none", generic=False),
    ):
        nodes[f"test.tracktracker.{test['name']}"] = test
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes, "sources": sources, "macros": {}}))
    empty_ones = ["not_null_stg_none", "not_null_stg_view"]

    conn = connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("create schema probe_bronze; create schema probe_staging")
            for table in ("none", "bronze", "staged"):
                cur.execute(f"create table probe_bronze.{table} (load_id bigint)")
            cur.execute("insert into probe_bronze.bronze values (1)")
            cur.execute("create table probe_staging.stg_staged (load_id bigint)")
            cur.execute("insert into probe_staging.stg_staged values (1)")
        conn.commit()
        assert tests_of_empty_staging(settings, manifest, []) == empty_ones
        # views left out (current since the last build): dbt leaves their tests out with them
        assert tests_of_empty_staging(settings, manifest, [], static_left_out=True) == ["not_null_stg_none"]
        # left out whole already (its tests with it); the view it feeds is still known empty
        assert tests_of_empty_staging(settings, manifest, ["stg_none"]) == ["not_null_stg_view"]
        with conn.cursor() as cur:  # built, still without a row
            cur.execute("create table probe_staging.stg_none (load_id bigint)")
            cur.execute("create view probe_staging.stg_view as select load_id from probe_staging.stg_none")
        conn.commit()
        assert tests_of_empty_staging(settings, manifest, []) == empty_ones
        with conn.cursor() as cur:  # a row staged (no load in bronze): the view reads it, so both test
            cur.execute("insert into probe_staging.stg_none values (2)")
        conn.commit()
        assert tests_of_empty_staging(settings, manifest, []) == []
        with conn.cursor() as cur:  # a load arrives in bronze: its tests run
            cur.execute("delete from probe_staging.stg_none; insert into probe_bronze.none values (2)")
        conn.commit()
        assert tests_of_empty_staging(settings, manifest, []) == []
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("drop schema if exists probe_bronze, probe_staging cascade")
        conn.commit()
        conn.close()


def test_a_batch_that_reaches_most_of_the_history_is_built_anew(real_gold) -> None:
    """Files loaded since the last build that, with the plays already built in the span of time the
    rows they brought cover (per listener), reach more than twice the plays they leave untouched
    (and hold at least REBUILD_FROM_ROWS) make the next build a full one; fewer keep it incremental.
    Asked inside a transaction the check itself ends, so the file it is shown is never committed."""
    from rich.console import Console

    from tracktracker_assets.orchestration.pipeline import refresh_if_behind
    from tracktracker_assets.warehouse.status import batch_outweighs_history

    assert refresh_if_behind(real_gold, Console(quiet=True))  # every file loaded so far is built
    conn = connect(real_gold.database_url)
    try:
        assert batch_outweighs_history(conn, min_rows=1) is None
        with conn.cursor() as cur:
            cur.execute("select coalesce(sum(inserted), 0) from bronze.loaded_files")
            built = cur.fetchone()[0]
            # the built file with the most plays over a span of time that no other file of its
            # listener's covers any of (and that repeated no known play: its rows span its records)
            cur.execute(
                "select f.user_id, f.min_ts, f.max_ts, f.inserted from bronze.loaded_files as f "
                "where f.max_ts > f.min_ts and f.duplicates = 0 and not exists (select 1 "
                "from bronze.loaded_files as o where o.user_id = f.user_id and o.load_id <> f.load_id "
                "and o.inserted > 0 "
                "and o.min_ts <= f.max_ts and o.max_ts >= f.min_ts) order by f.inserted desc limit 1"
            )
            user_id, since, until, largest = cur.fetchone()
        assert built > 1000 and largest > 100

        def shown(inserted: int, min_rows: int, user: str = "probe", span=None, new_span=None) -> str | None:
            """Asks with a file shown to it: its records' span, and the span of the rows it brought
            (by default the same: it repeated none)."""
            low, high = span or (datetime(2030, 1, 1, tzinfo=UTC),) * 2
            new_low, new_high = new_span or (low, high)
            with conn.cursor() as cur:
                cur.execute(
                    "insert into bronze.loaded_files (user_id, sha256, file_name, format, bytes, records, "
                    "inserted, duplicates, min_ts, max_ts, load_id, inserted_min_ts, inserted_max_ts) "
                    "values (%(user)s, 'probe', 'probe.csv', 'lastfm_ghan_csv', 1, %(n)s, %(n)s, 0, "
                    "%(low)s, %(high)s, nextval('bronze.load_id_seq'), %(new_low)s, %(new_high)s)",
                    {"n": inserted, "user": user, "low": low, "high": high}
                    | {"new_low": new_low, "new_high": new_high},
                )
            return batch_outweighs_history(conn, min_rows=min_rows)

        # a new listener's file reaches nothing built: its own plays against twice the history
        reason = (
            f"{2 * built + 1:,} new plays reaching 0 of the {built:,} built before them: "
            f"more than twice the {built:,} they leave untouched"
        )
        assert shown(2 * built + 1, min_rows=1) == reason
        assert shown(2 * built, min_rows=1) is None  # not more than twice the history
        assert shown(2 * built + 1, min_rows=2 * built + 2) is None  # too few to be worth a full build

        # the same listener's file over the whole span of their largest file reaches all its plays:
        # the fewest new plays that then outweigh the rest, and as many that reach only half of it
        untouched = built - largest
        enough = max(2 * untouched - largest + 1, 1)
        whole = (since, until)
        assert shown(enough, min_rows=1, user=user_id, span=whole) == (
            f"{enough:,} new plays reaching {largest:,} of the {built:,} built before them: "
            f"more than twice the {untouched:,} they leave untouched"
        )
        assert shown(enough, min_rows=1) is None  # the same plays, another listener's
        first_half = (since, since + (until - since) / 2)
        assert shown(enough, min_rows=1, user=user_id, span=first_half) is None
        # a later export repeating that whole span: only the span of the rows it brought counts
        after = (datetime(2030, 1, 1, tzinfo=UTC),) * 2
        assert shown(enough, min_rows=1, user=user_id, span=whole, new_span=after) is None
        with conn.cursor() as cur:
            cur.execute("select count(*) from bronze.loaded_files where sha256 = 'probe'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
