"""The listenbrainz bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 600 to 699, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = []

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
]
