"""The listenbrainz bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 600 to 699, the core (schema.py) those below 100. The file imports
own 600 to 649, the live pull 650 to 699.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        600,
        """
        -- listens of ListenBrainz user exports (listenbrainz/readers.py); track_metadata as received,
        -- the columns beside it taken out of it for silver
        create table bronze.listenbrainz_listens (
            user_id            text        not null,
            listened_at        timestamptz not null,  -- start, except Spotify importer listens (the end)
            inserted_at        timestamptz,           -- when ListenBrainz received it (JSON lines export)
            recording_msid     text,
            track_name         text,
            artist_name        text,
            release_name       text,
            recording_mbid     text,   -- additional_info, else mbid_mapping
            release_mbid       text,
            isrc               text,
            spotify_track_id   text,   -- bare id from additional_info.spotify_id / origin_url
            duration_ms        bigint, -- the track's length (duration_ms, or duration in s)
            ms_played          bigint, -- how long it played, when the submitter said (Spotify importer)
            music_service      text,
            submission_client  text,
            listening_from     text,
            track_metadata     jsonb       not null,
            extra              jsonb,     -- the listen's other keys (user_name, recording_msid, ...)
            load_id            bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at         timestamptz not null default now()
        );
        create index listenbrainz_listens_load_id on bronze.listenbrainz_listens (load_id);
        create index listenbrainz_listens_user_time on bronze.listenbrainz_listens (user_id, listened_at);
        """,
    ),
]

# The live GET /1/user/{user}/listens pull (listenbrainz/pull.py): versions 650-699.
MIGRATIONS += [
    (
        650,
        """
        -- every listen a pull received, as ListenBrainz sent it; a re-pull adds nothing
        create table bronze.listenbrainz_api_listens (
            user_id            text        not null,
            listened_at        timestamptz not null,  -- second precision
            listen_key         text        not null,  -- recording_msid, else md5 of artist and track
            listenbrainz_user  text        not null,
            pull_id            text        not null,
            item               jsonb       not null,
            load_id            bigint      not null,
            _loaded_at         timestamptz not null default now(),
            primary key (user_id, listened_at, listen_key)
        );
        create index listenbrainz_api_listens_load_id on bronze.listenbrainz_api_listens (load_id);

        create table bronze.listenbrainz_pulls (
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
        create index listenbrainz_pulls_user on bronze.listenbrainz_pulls (user_id, pulled_at desc);
        """,
    ),
    (
        651,
        """
        -- the pull log's key includes user_id, so it can be distributed by user_id like every
        -- per-user table (deploy/citus/)
        alter table bronze.listenbrainz_pulls
            drop constraint listenbrainz_pulls_pkey,
            add primary key (pull_id, user_id);
        """,
    ),
]
