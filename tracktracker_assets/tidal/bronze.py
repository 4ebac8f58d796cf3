"""The tidal bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 400 to 499, the core (schema.py) those below 100.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        400,
        """
        -- Tidal's streaming.csv rows as given, without ip_address, region_name, city_name and
        -- postal_code (never stored). started_at is entry_date read in time_zone (UTC when that is
        -- null or unknown): tidal/streaming.py documents the rule.
        create table bronze.tidal_streaming (
            user_id             text        not null,
            started_at          timestamptz not null,  -- minute precision
            entry_date          text        not null,  -- as written: DD/MM/YYYY H:MM, local time
            time_zone           text,                  -- as written (IANA name, invalid, or null)
            artist_name         text,
            track_title         text,
            stream_duration_ms  numeric,               -- float text in the file
            product_type        text,                  -- TRACK, ALBUM, ...
            client_name         text,                  -- client_name_from_session
            country_name        text,
            extra               jsonb,                 -- columns of later vintages
            load_id             bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at          timestamptz not null default now()
        );
        create index tidal_streaming_load_id on bronze.tidal_streaming (load_id);
        create index tidal_streaming_user on bronze.tidal_streaming (user_id, started_at);
        """,
    ),
]
