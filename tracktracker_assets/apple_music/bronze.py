"""The apple music bronze tables: numbered migrations applied by warehouse/schema.py in version order.

Versions are global: this room owns 100 to 199, the core (schema.py) those below 100.

Every table keeps its file's records as received (typed columns for what staging reads, every other
field in `extra`), never a privacy field: Apple's account, device and analytics ids, IP addresses and
the IP geolocation block are dropped by the readers (apple_music/privacy.py).
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        100,
        """
        -- Apple Music Play Activity.csv, both layouts (pre-2022: Content Name + Artist Name; 2022+:
        -- Song Name, no artist), every event as received (PLAY_START, zero and negative durations too)
        create table bronze.apple_music_play_activity (
            user_id                text        not null,
            layout                 text        not null check (layout in ('pre2022', '2022')),
            -- Event End Timestamp, else Start, else Received: the time every row has (UTC)
            event_at               timestamptz not null,
            event_start_at         timestamptz,
            event_end_at           timestamptz,
            event_received_at      timestamptz,
            event_type             text,
            end_reason_type        text,
            item_type              text,
            media_type             text,
            content_specific_type  text,
            song_name              text,
            artist_name            text,
            album_name             text,
            container_album_name   text,
            container_artist_name  text,
            container_type         text,
            container_id           text,
            build_version          text,
            device_os_name         text,
            device_type            text,
            feature_name           text,
            offline                boolean,
            play_duration_ms       bigint,
            media_duration_ms      bigint,
            start_position_ms      bigint,
            end_position_ms        bigint,
            utc_offset_s           integer,
            extra                  jsonb,
            load_id                bigint      not null,  -- bronze.loaded_files.load_id
            _loaded_at             timestamptz not null default now()
        );
        create index apple_music_play_activity_load_id on bronze.apple_music_play_activity (load_id);
        create index apple_music_play_activity_user on bronze.apple_music_play_activity (user_id, event_at);

        -- Apple Music - Track Play History.csv: "Artist - Title" and the time, often twice per play
        create table bronze.apple_music_track_play_history (
            user_id            text        not null,
            played_at          timestamptz not null,
            track_name         text,
            is_user_initiated  boolean,
            load_id            bigint      not null,
            _loaded_at         timestamptz not null default now()
        );
        create index apple_music_track_play_history_load_id
            on bronze.apple_music_track_play_history (load_id);

        -- hints (never plays): Apple Music - Play History Daily Tracks.csv, per track and day
        create table bronze.apple_music_daily_tracks (
            user_id                     text        not null,
            date_played                 date        not null,
            track_description           text,
            track_identifier            text,
            track_reference             text,
            hours                       text,
            play_duration_ms            bigint,
            play_count                  integer,
            skip_count                  integer,
            end_reason_type             text,
            source_type                 text,
            media_type                  text,
            country                     text,
            ignore_for_recommendations  boolean,
            extra                       jsonb,
            load_id                     bigint      not null,
            _loaded_at                  timestamptz not null default now()
        );
        create index apple_music_daily_tracks_load_id on bronze.apple_music_daily_tracks (load_id);

        -- hints: Apple Music - Recently Played Tracks.csv (2020 and 2024 layouts), per track
        create table bronze.apple_music_recently_played (
            user_id                     text        not null,
            last_modified_at            timestamptz not null,
            track_description           text,
            track_reference             text,
            container_type              text,
            container_description       text,
            container_reference         text,
            country                     text,
            ignore_for_recommendations  boolean,
            total_plays                 integer,
            media_duration_ms           bigint,
            extra                       jsonb,
            load_id                     bigint      not null,
            _loaded_at                  timestamptz not null default now()
        );
        create index apple_music_recently_played_load_id on bronze.apple_music_recently_played (load_id);

        -- hints: Apple Music Library Tracks.json, per library track
        create table bronze.apple_music_library_tracks (
            user_id                       text        not null,
            date_added_at                 timestamptz not null,
            track_identifier              bigint,
            apple_music_track_identifier  bigint,
            content_type                  text,
            title                         text,
            artist                        text,
            album                         text,
            album_artist                  text,
            track_duration_ms             bigint,
            extra                         jsonb,
            load_id                       bigint      not null,
            _loaded_at                    timestamptz not null default now()
        );
        create index apple_music_library_tracks_load_id on bronze.apple_music_library_tracks (load_id);
        """,
    ),
]
