"""The youtube music bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 200 to 299, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        200,
        """
        -- Google Takeout watch-history entries with the header "YouTube Music" (JSON and HTML
        -- layouts), as given: the title keeps its "Watched " prefix, the channel its " - Topic"
        -- suffix. Plain YouTube entries are not rows. Takeout carries no account data in them.
        create table bronze.youtube_music_watch_history (
            user_id       text        not null,
            watched_at    timestamptz not null,  -- start of the play (JSON: ms, HTML: s precision)
            title         text,
            video_id      text,
            channel_name  text,
            channel_url   text,
            title_url     text,
            extra         jsonb,                 -- products, activityControls, details, HTML time text
            load_id       bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at    timestamptz not null default now()
        );
        create index youtube_music_watch_history_load_id on bronze.youtube_music_watch_history (load_id);
        create index youtube_music_watch_history_user
            on bronze.youtube_music_watch_history (user_id, watched_at);
        """,
    ),
]
