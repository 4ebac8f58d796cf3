"""The lastfm bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 500 to 599, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = []

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
]
