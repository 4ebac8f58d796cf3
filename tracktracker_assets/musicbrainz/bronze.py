"""The musicbrainz bronze table: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 700 to 799, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        700,
        """
        -- MusicBrainz answers for the tracks the Spotify catalog gives no genres or release date,
        -- as received (replayable): one row per lookup, which is what the warehouse knew of the
        -- track when it asked (lookups.py: a recording MBID, else an ISRC, else artist and title).
        -- not_found rows are kept so the same question is never asked twice.
        create table bronze.musicbrainz_recordings (
            lookup      text        primary key,  -- 'mbid:<id>' | 'isrc:<ISRC>' | 'search:<artist>\t<title>'
            status      text        not null,     -- ok | not_found
            payload     jsonb,                    -- the ws/2 JSON answer (lookup, ISRC list or search)
            load_id     bigint      not null,
            fetched_at  timestamptz not null default now()
        );
        create index musicbrainz_recordings_load_id on bronze.musicbrainz_recordings (load_id);

        -- gold.dim_track gained the columns that name each track's lookup and MusicBrainz's answer;
        -- incremental models only append new columns (null on the rows they hold): an install that had
        -- built gold rebuilds silver and gold from bronze once (a full refresh, transform/assets.py)
        do $upgrade$
        begin
            if to_regclass('gold.dim_track') is not null then
                insert into bronze.dbt_state (key, value) values ('full_refresh', 'migration 700')
                on conflict (key) do update set value = excluded.value, updated_at = now();
            end if;
        end
        $upgrade$;
        """,
    ),
]
