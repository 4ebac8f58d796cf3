"""The lastfm bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 500 to 599, the core (schema.py) those below 100. The file imports
own 500 to 549, the live pull 550 to 599.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        500,
        """
        -- scrobbles from every Last.fm export format (lastfm/readers.py), normalised alike so that the
        -- same scrobble in two exports is one event (dbt_project.yml event_identity)
        create table bronze.lastfm_scrobbles (
            user_id       text        not null,
            scrobbled_at  timestamptz not null,  -- when the play started (Last.fm stamps the start)
            artist        text,
            album         text,                  -- null when the export has none ('' in the file)
            track         text,
            artist_mbid   text,
            album_mbid    text,
            track_mbid    text,
            loved         boolean,               -- only exports made with extended=1 say
            precision_ms  integer     not null,  -- 1000 (epoch s or ms) or 60000 (minute-only dates)
            extra         jsonb,                 -- what else the format carries (urls, images, username)
            load_id       bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at    timestamptz not null default now()
        );
        create index lastfm_scrobbles_load_id on bronze.lastfm_scrobbles (load_id);
        -- the loader matches a new load's rows against earlier loads by user and time first
        create index lastfm_scrobbles_user_time on bronze.lastfm_scrobbles (user_id, scrobbled_at);
        """,
    ),
]

# The live user.getRecentTracks pull (lastfm/pull.py): versions 550-599.
MIGRATIONS += [
    (
        550,
        """
        -- every scrobble a pull received, the item as Last.fm sent it (now-playing rows are not scrobbles
        -- and never stored); a re-pull of the same scrobble adds nothing (user, time, track key)
        create table bronze.lastfm_recent_tracks (
            user_id       text        not null,
            scrobbled_at  timestamptz not null,  -- date.uts: the START of the play, second precision
            track_key     text        not null,  -- md5 of artist, track and album names
            lastfm_user   text        not null,
            pull_id       text        not null,
            item          jsonb       not null,
            load_id       bigint      not null,
            _loaded_at    timestamptz not null default now(),
            primary key (user_id, scrobbled_at, track_key)
        );
        create index lastfm_recent_tracks_load_id on bronze.lastfm_recent_tracks (load_id);

        -- one row per pull of a listener: what came back, or why nothing did
        create table bronze.lastfm_pulls (
            pull_id          text        primary key,
            user_id          text        not null,
            load_id          bigint,
            pulled_at        timestamptz not null default now(),
            status           text        not null,  -- ok | deferred | failed
            pages            integer     not null default 0,
            items            integer     not null default 0,
            inserted         integer     not null default 0,
            oldest_at        timestamptz,
            newest_at        timestamptz,
            previous_last_at timestamptz,
            retry_after_s    integer,
            message          text
        );
        create index lastfm_pulls_user on bronze.lastfm_pulls (user_id, pulled_at desc);
        """,
    ),
    (
        551,
        """
        -- the pull log's key includes user_id, so it can be distributed by user_id like every
        -- per-user table (deploy/citus/)
        alter table bronze.lastfm_pulls
            drop constraint lastfm_pulls_pkey,
            add primary key (pull_id, user_id);
        """,
    ),
]
