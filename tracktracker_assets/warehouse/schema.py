"""The bronze schema, created and migrated by Python (dbt owns silver and gold).

Bronze is raw as received: typed where the format is known, unknown fields kept in `extra` (jsonb),
never the privacy fields (IP addresses, usernames, user agents). Every row carries its user and a
`load_id` from one sequence, which names its source: the file in bronze.loaded_files (sha256, name)
or the API pull. dbt's incremental models use load_id as their watermark. Migrations are numbered
and applied once, in order, under an advisory lock. The core's are here (versions below 100); each
service room owns the migrations of its own tables (`<room>/bronze.py`, a hundred versions each).
"""

from __future__ import annotations

from typing import Any

from tracktracker_assets.warehouse.locks import MIGRATE_LOCK_KEY, transaction_lock

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        create schema if not exists bronze;
        create sequence if not exists bronze.load_id_seq;

        -- one row per file loaded (or found to hold nothing new): makes re-imports no-ops
        create table bronze.loaded_files (
            user_id     text        not null,
            sha256      text        not null,
            file_name   text        not null,
            format      text        not null,
            bytes       bigint      not null,
            records     integer     not null,
            inserted    integer     not null,
            duplicates  integer     not null,
            min_ts      timestamptz,
            max_ts      timestamptz,
            load_id     bigint      not null unique,
            loaded_at   timestamptz not null default now(),
            primary key (user_id, sha256)
        );
        create index loaded_files_size on bronze.loaded_files (user_id, bytes);

        -- Spotify "Extended streaming history" (endsong_N.json, Streaming_History_Audio/Video_*.json)
        create table bronze.spotify_extended_history (
            user_id                           text        not null,
            ts                                timestamptz not null,
            platform                          text,
            ms_played                         bigint      not null check (ms_played >= 0),
            conn_country                      text,
            master_metadata_track_name        text,
            master_metadata_album_artist_name text,
            master_metadata_album_album_name  text,
            spotify_track_uri                 text,
            episode_name                      text,
            episode_show_name                 text,
            spotify_episode_uri               text,
            audiobook_title                   text,
            audiobook_uri                     text,
            audiobook_chapter_uri             text,
            audiobook_chapter_title           text,
            reason_start                      text,
            reason_end                        text,
            shuffle                           boolean,
            skipped                           boolean,
            offline                           boolean,
            offline_timestamp                 bigint,
            incognito_mode                    boolean,
            extra                             jsonb,
            load_id                           bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at                        timestamptz not null default now()
        );
        create index spotify_extended_history_load_id on bronze.spotify_extended_history (load_id);

        -- Spotify "Account data" (StreamingHistory*.json: music, _podcast_, _audiobook_ variants)
        create table bronze.spotify_account_history (
            user_id         text        not null,
            end_time        timestamptz not null,
            ms_played       bigint      not null,
            artist_name     text,
            track_name      text,
            podcast_name    text,
            episode_name    text,
            audiobook_name  text,
            chapter_name    text,
            author_name     text,
            extra           jsonb,
            load_id         bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at      timestamptz not null default now()
        );
        create index spotify_account_history_load_id on bronze.spotify_account_history (load_id);

        -- Web API recently-played items as received, one per user and played_at
        create table bronze.spotify_recently_played (
            user_id     text        not null,
            played_at   timestamptz not null,
            track_id    text,
            pull_id     text        not null,
            item        jsonb       not null,
            load_id     bigint      not null,
            _loaded_at  timestamptz not null default now(),
            primary key (user_id, played_at)
        );
        create index spotify_recently_played_load_id on bronze.spotify_recently_played (load_id);

        -- the registry's users as dbt sees them (time zone for local time, display name)
        create table bronze.registry_users (
            user_id       text        primary key,
            display_name  text        not null,
            timezone      text        not null,
            status        text        not null,
            created_at    timestamptz not null,
            synced_at     timestamptz not null default now()
        );

        -- every erasure, so incremental dbt models can drop the user's rows too
        create table bronze.erasures (
            user_id    text        not null,
            erased_at  timestamptz not null default now()
        );
        """,
    ),
    (
        2,
        """
        -- one row per recently-played pull of a user: what came back, and whether plays were lost
        create table bronze.spotify_pulls (
            pull_id                  text        primary key,
            user_id                  text        not null,
            load_id                  bigint,
            pulled_at                timestamptz not null default now(),
            status                   text        not null,  -- ok | deferred | failed | needs_reauth
            items                    integer     not null default 0,
            inserted                 integer     not null default 0,
            oldest_played_at         timestamptz,
            newest_played_at         timestamptz,
            previous_last_played_at  timestamptz,
            gap_seconds              double precision,       -- > 0: plays between polls were lost
            retry_after_s            integer,
            message                  text
        );
        create index spotify_pulls_user on bronze.spotify_pulls (user_id, pulled_at desc);

        -- catalog payloads (GET /tracks|albums|artists/{id}) fetched for enrichment, as received
        create table bronze.spotify_catalog (
            kind        text        not null,  -- track | album | artist
            id          text        not null,
            status      text        not null,  -- ok | not_found
            payload     jsonb,
            load_id     bigint      not null,
            fetched_at  timestamptz not null default now(),
            primary key (kind, id)
        );
        create index spotify_catalog_load_id on bronze.spotify_catalog (load_id);
        """,
    ),
    (
        3,
        """
        -- an erasure is recorded before it starts and done step by step (users/erasure.py): an
        -- interrupted one is finished by the next `users remove` or `up`. A finished one keeps when and
        -- which steps ran, not whom. Erasures of earlier versions are pending again: every step is
        -- idempotent, and they left traces outside the warehouse.
        alter table bronze.erasures
            add column erasure_id bigint generated by default as identity primary key,
            add column display_name text,
            add column steps_done text[] not null default '{}',
            add column completed_at timestamptz,
            alter column user_id drop not null;
        create index erasures_pending on bronze.erasures (user_id) where completed_at is null;

        -- what dbt builds leave besides data (warehouse/build_state.py): the fingerprint of the views
        -- and static tables as built, and a marker while a build runs, left by one that was cut short
        create table bronze.dbt_state (
            key         text        primary key,
            value       text        not null,
            updated_at  timestamptz not null default now()
        );
        """,
    ),
    (
        4,
        """
        -- dbt's models took the staging / intermediate / marts layout: silver's tables were renamed
        -- (silver.plays is silver.int_plays__deduplicated, silver.stg_spotify_extended is
        -- silver.stg_spotify__extended_history, ...). The old ones go, and an install that had built
        -- them rebuilds silver and gold from bronze once (a full refresh, transform/assets.py): the
        -- incremental watermarks of the new tables start from nothing, and play ids are now hashed
        -- from the bronze columns of dbt's `event_identity` var.
        do $upgrade$
        declare
            old record;
            built boolean := to_regclass('gold.fct_plays') is not null;
        begin
            for old in
                select c.relname, c.relkind
                from pg_class as c
                join pg_namespace as n on n.oid = c.relnamespace
                where n.nspname = 'silver'
                    and c.relname in ('plays', 'stg_spotify_extended', 'stg_spotify_account',
                                      'stg_spotify_api', 'catalog_items', 'users')
                    and c.relkind in ('r', 'v')
            loop
                execute format('drop %s if exists silver.%I cascade',
                               case old.relkind when 'v' then 'view' else 'table' end, old.relname);
                built := true;
            end loop;
            if built then
                insert into bronze.dbt_state (key, value) values ('full_refresh', 'migration 4')
                on conflict (key) do update set value = excluded.value, updated_at = now();
            end if;
        end
        $upgrade$;
        """,
    ),
    (
        10,
        """
        -- one play, once, across every service: silver's plays gained the conformed columns (service,
        -- services, linked_rows, ...) and gold the lineage table fct_play_sources. Incremental models
        -- only append new columns, leaving them null on the rows they already hold: an install that had
        -- built gold rebuilds silver and gold from bronze once (a full refresh, transform/assets.py).
        do $upgrade$
        begin
            if to_regclass('gold.fct_plays') is not null then
                insert into bronze.dbt_state (key, value) values ('full_refresh', 'migration 10')
                on conflict (key) do update set value = excluded.value, updated_at = now();
            end if;
        end
        $upgrade$;
        """,
    ),
    (
        11,
        """
        -- every unique key of a per-user table includes user_id, so the table can be distributed by
        -- user_id (Citus enforces a unique key only within one shard: deploy/citus/, docs/scale-out.md).
        -- load ids (one sequence) and pull ids (UUIDs) stay unique on their own.
        alter table bronze.loaded_files
            drop constraint loaded_files_load_id_key,
            add constraint loaded_files_load_id_user_id_key unique (load_id, user_id);
        alter table bronze.spotify_pulls
            drop constraint spotify_pulls_pkey,
            add primary key (pull_id, user_id);
        """,
    ),
    (
        12,
        """
        -- the load that took in a listener's move to another time zone (warehouse/zone_moves.py):
        -- builds follow it like a file's load, recomputing the local days and hours of their plays
        alter table bronze.registry_users add column load_id bigint;
        """,
    ),
    (
        13,
        """
        -- the shared dimensions' columns that tell a listener of the others (when anyone last played a
        -- key, the newest load that touched it, the latest track of an artist or album by anyone) are
        -- not the listeners' to read. Every build of a dimension grants so (meta.hidden_from_listeners,
        -- dbt/macros/row_security.sql); on a warehouse built before, this closes them at once, not at
        -- the dimension's next build. The columns as they were hidden then, and dim_track's
        -- details_load_id (a load id too, added later by migration 14), should this run after it.
        do $hide$
        declare
            dim record;
            col name;
        begin
            if not exists (select from pg_roles where rolname = 'tt_listeners') then
                return;
            end if;
            for dim in
                select to_regclass(d.rel) as rel, d.hidden
                from (values
                    ('gold.dim_track', array['last_played_at', '_batch_load_id', 'details_load_id']::name[]),
                    ('gold.dim_artist', array['spotify_track_id', 'spotify_album_id', 'spotify_artist_ids',
                        'last_played_at', '_batch_load_id']::name[]),
                    ('gold.dim_album', array['spotify_track_id', 'spotify_artist_ids', 'last_played_at',
                        '_batch_load_id']::name[])
                ) as d (rel, hidden)
                where to_regclass(d.rel) is not null
            loop
                execute format('revoke select on %s from tt_listeners', dim.rel);
                for col in
                    select attname from pg_attribute
                    where attrelid = dim.rel and attnum > 0 and not attisdropped
                        and attname <> all(dim.hidden)
                loop
                    execute format('grant select (%I) on %s to tt_listeners', col, dim.rel);
                end loop;
            end loop;
        end
        $hide$;
        """,
    ),
    (
        14,
        """
        -- dim_track.details_load_id, the load that last changed a track's genres or release year (what
        -- the monthly aggregates by genre and decade recompute by): an incremental build of dim_track
        -- reads it from the rows it replaces, so a warehouse built before gets the column first, null
        -- on every row (no change known since the aggregates were built). dbt's own schema change
        -- would add it only after that read.
        do $details$
        begin
            if to_regclass('gold.dim_track') is not null then
                alter table gold.dim_track add column if not exists details_load_id bigint;
            end if;
        end
        $details$;
        """,
    ),
    (
        15,
        """
        -- each listener's local days with facts, with the newest fact batch that wrote them (fct_plays'
        -- post-hook, dbt/macros/watermark.sql): what every per-user aggregate recomputes is read here, a
        -- few rows per import, instead of from the batch's facts, once by each of them. A warehouse
        -- built before takes its days from the facts it holds.
        create table bronze.dbt_fact_days (
            user_id        text   not null,
            local_date     date   not null,
            batch_load_id  bigint not null,
            primary key (user_id, local_date)
        );
        create index dbt_fact_days_batch on bronze.dbt_fact_days (batch_load_id);
        do $days$
        begin
            if to_regclass('gold.fct_plays') is not null then
                insert into bronze.dbt_fact_days (user_id, local_date, batch_load_id)
                select user_id, local_date, max(_batch_load_id)
                from gold.fct_plays
                group by user_id, local_date;
            end if;
        end
        $days$;
        """,
    ),
    (
        16,
        """
        -- the span of the rows a file brought ([min_ts, max_ts] is that of all its records, the known
        -- ones it repeats included): what a refresh reaches (warehouse/status.py). A file loaded
        -- before is taken at its records' span, the best known.
        alter table bronze.loaded_files
            add column if not exists inserted_min_ts timestamptz,
            add column if not exists inserted_max_ts timestamptz;
        update bronze.loaded_files
        set inserted_min_ts = min_ts, inserted_max_ts = max_ts
        where inserted > 0 and inserted_min_ts is null;
        """,
    ),
]


def all_migrations() -> list[tuple[int, str]]:
    """The core's migrations and each service room's (its own bronze tables), in version order."""
    from tracktracker_assets.apple_music import bronze as apple_music
    from tracktracker_assets.deezer import bronze as deezer
    from tracktracker_assets.lastfm import bronze as lastfm
    from tracktracker_assets.listenbrainz import bronze as listenbrainz
    from tracktracker_assets.musicbrainz import bronze as musicbrainz
    from tracktracker_assets.tidal import bronze as tidal
    from tracktracker_assets.youtube_music import bronze as youtube_music

    rooms = (apple_music, youtube_music, deezer, tidal, lastfm, listenbrainz, musicbrainz)
    found = [*MIGRATIONS, *(m for room in rooms for m in room.MIGRATIONS)]
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two bronze migrations share a version: {sorted(versions)}")
    return sorted(found)


def migrate(conn: Any) -> list[int]:
    """Apply pending migrations; returns the versions applied. Safe to call concurrently."""
    applied: list[int] = []
    with conn.cursor() as cur:
        transaction_lock(conn, MIGRATE_LOCK_KEY)
        cur.execute("create schema if not exists bronze")
        cur.execute(
            "create table if not exists bronze.schema_migrations "
            "(version integer primary key, applied_at timestamptz not null default now())"
        )
        cur.execute("select version from bronze.schema_migrations")
        done = {row[0] for row in cur.fetchall()}
        for version, ddl in all_migrations():
            if version in done:
                continue
            cur.execute(ddl)
            cur.execute("insert into bronze.schema_migrations (version) values (%s)", (version,))
            applied.append(version)
    conn.commit()
    return applied
