"""Catalog enrichment against the fake Web API: one id per request, within a budget, resumable, never
asking twice, deferring on a long Retry-After; the details reach the gold dimensions."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.conftest import REPO, cli
from tests.spotify.conftest import connect_directly
from tracktracker_assets.orchestration.runs import run_enrich, run_pull
from tracktracker_assets.settings import get_settings
from tracktracker_assets.warehouse.db import query


def catalog(kind: str | None = None) -> int:
    sql = "select count(*) from bronze.spotify_catalog" + (" where kind = %s" if kind else "")
    return query(get_settings().database_url, sql, (kind,) if kind else None)[1][0][0]


def test_enrichment_is_budgeted_resumable_and_reaches_gold(fake, monkeypatch) -> None:
    connect_directly(fake, "enriched")
    plays = fake.generate_plays("sp-enriched", 40, end=datetime.now(UTC) - timedelta(minutes=5))
    assert run_pull(get_settings(), ["enriched"]).success
    code, output = cli("pull", "enriched")  # refreshes silver and gold
    assert code == 0, output
    fake.clear_requests()

    monkeypatch.setenv("TRACKTRACKER_ENRICH_BUDGET", "15")
    first = run_enrich(get_settings())
    assert first.success
    assert first.enrich["from_recently_played"] >= len({p.track_id for p in plays})  # no request for those
    assert 0 < first.enrich["requests"] <= 15 and "budget" in first.enrich["note"]
    after_first = catalog()
    monkeypatch.setenv("TRACKTRACKER_ENRICH_BUDGET", "100000")
    for _ in range(20):  # the rest, over as many runs as it takes
        run = run_enrich(get_settings())
        assert run.success
        if run.enrich["requests"] == 0:
            break
    assert catalog() > after_first
    asked = Counter(r.path for r in fake.requests if r.path.startswith("/v1/") and "recently" not in r.path)
    assert asked and max(asked.values()) == 1  # one id per request, and no id asked twice
    assert all(path.count("/") == 3 for path in asked)  # /v1/{kind}s/{id}: never a batch
    # silver and gold pick the details up on the next refresh
    code, output = cli("pull", "enriched")
    assert code == 0, output
    [(tracks, with_details, with_genres)] = query(
        get_settings().database_url,
        """
        select count(*), count(*) filter (where t.duration_ms is not null and t.release_date is not null
                                            and t.image_url is not null and t.isrc is not null),
               count(*) filter (where t.genres is not null)
        from gold.dim_track t
        where t.track_key in (select track_key from gold.fct_plays where user_id = 'enriched')
    """,
    )[1]
    assert tracks > 0 and with_details == tracks and with_genres > 0
    [(artists_with_ids,)] = query(
        get_settings().database_url,
        """
        select count(*) from gold.dim_artist a
        where a.artist_key in (select artist_key from gold.fct_plays where user_id = 'enriched')
          and a.spotify_artist_id is not null
    """,
    )[1]
    assert artists_with_ids > 0
    assert not (REPO / ".cache").exists()  # no token cache file left in the working directory


def test_a_long_retry_after_ends_the_run_and_keeps_what_arrived(fake, monkeypatch) -> None:
    connect_directly(fake, "throttled")
    # tracks no other test plays (generated plays draw from the catalog's first 5,000 tracks), so their
    # new artists are certainly still to be fetched, whatever the session enriched before
    fresh = fake.catalog.derived_track_ids(6_030)[6_000:]
    end = datetime.now(UTC) - timedelta(minutes=1)
    fake.add_plays("sp-throttled", [(track, end - timedelta(minutes=5 * i)) for i, track in enumerate(fresh)])
    assert run_pull(get_settings(), ["throttled"]).success
    code, output = cli("pull", "throttled")
    assert code == 0, output
    monkeypatch.setenv("TRACKTRACKER_ENRICH_BUDGET", "100000")
    fake.inject_fault("/v1/artists/*", 429, retry_after=3600, times=1000)
    before = catalog()
    started = datetime.now(UTC)
    run = run_enrich(get_settings())
    assert (datetime.now(UTC) - started).total_seconds() < 60
    assert (
        run.success and run.enrich["deferred_retry_after_s"] == 3600 and "rate limited" in run.enrich["note"]
    )
    assert catalog() >= before  # what arrived before the 429 is kept
    fake.clear_faults()
    again = run_enrich(get_settings())
    assert again.success and again.enrich["deferred_retry_after_s"] == 0


def test_unknown_ids_are_remembered_not_asked_again(fake, monkeypatch) -> None:
    from tracktracker_assets.services.local import open_registry
    from tracktracker_assets.spotify.enrich import enrich
    from tracktracker_assets.warehouse.db import connect

    settings = get_settings()
    conn = connect(settings.database_url)
    try:
        with conn.cursor() as cur:  # a track id Spotify does not know, as a gold dimension would name it
            cur.execute(
                "insert into bronze.spotify_catalog (kind, id, status, payload, load_id) "
                "values ('track', 'tt0unknowntrack00000000', 'ok', "
                '\'{"album": {"id": "NoSuchAlbum0000000000000"}, "artists": []}\', '
                "nextval('bronze.load_id_seq'))"
            )
        conn.commit()
        fake.clear_requests()
        with open_registry(settings) as registry:
            first = enrich(settings, conn, registry, budget=100000)
            assert first.not_found >= 1
            second = enrich(settings, conn, registry, budget=100000)
        asked = [r.path for r in fake.requests if "NoSuchAlbum" in r.path]
        assert len(asked) == 1 and second.not_found == 0
    finally:
        conn.close()
