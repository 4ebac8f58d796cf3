"""The deezer bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 300 to 399, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        300,
        """
        -- Deezer's export sheet 10_listeningHistory, one row per row of the sheet, as given (the
        -- text "None" included), without IP Address (never stored). listened_at is the sheet's Date,
        -- the END of the play, read as UTC (deezer/history.py documents the rule).
        create table bronze.deezer_listening_history (
            user_id           text        not null,
            listened_at       timestamptz not null,  -- second precision
            song_title        text,
            artist            text,
            isrc              text,
            album_title       text,
            listening_time_s  integer,               -- seconds; -1 = unknown to Deezer
            platform_name     text,
            platform_model    text,
            extra             jsonb,                 -- columns of later vintages
            load_id           bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at        timestamptz not null default now()
        );
        create index deezer_listening_history_load_id on bronze.deezer_listening_history (load_id);
        create index deezer_listening_history_user on bronze.deezer_listening_history (user_id, listened_at);
        """,
    ),
]
