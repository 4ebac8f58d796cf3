-- Deezer plays from the export's listening history sheet, in the conformed play columns
-- (models/intermediate/int_plays__conformed.yml). Deezer stamps the END of a play (Date, read as
-- UTC: tracktracker_assets/deezer/history.py); the sheet writes a missing value as the text 'None'.

with

source as (
    select * from {{ source('bronze', 'deezer_listening_history') }}
),

typed as (
    select
        {{ play_id('deezer_listening_history', 'deezer_listening_history') }} as play_id,
        user_id,
        listened_at,
        -- -1 is Deezer's "unknown"
        case when listening_time_s >= 0 then listening_time_s::bigint * 1000 end as ms_played,
        {{ clean_text("nullif(song_title, 'None')") }} as track_name,
        {{ clean_text("nullif(artist, 'None')") }} as artist_name,
        {{ clean_text("nullif(album_title, 'None')") }} as album_name,
        nullif(upper(regexp_replace(nullif(isrc, 'None'), '[^A-Za-z0-9]', '', 'g')), '') as isrc,
        {{ normalise_platform("nullif(platform_name, 'None')") }} as platform,
        load_id
    from source
),

-- the same play twice (the export loaded twice, overlapping exports): the earliest load
deduplicated as (
    select distinct on (play_id) *
    from typed
    order by play_id, load_id
),

-- Deezer writes some plays twice at the same second under two catalog entries of the song (another
-- ISRC or album, the same title and artist): one play, the row listened longest
one_per_second as (
    select distinct on (user_id, listened_at, {{ name_key('artist_name') }}, {{ name_key('track_name') }}) *
    from deduplicated
    order by
        user_id, listened_at, {{ name_key('artist_name') }}, {{ name_key('track_name') }},
        ms_played desc nulls last, play_id
),

final as (
    select
        play_id,
        user_id,
        'deezer'::text as service,
        'deezer_listening_history'::text as source,
        listened_at as stamped_at,
        'end'::text as stamp,
        1000 as precision_ms,
        listened_at - make_interval(secs => ms_played / 1000.0) as started_at,
        listened_at as ended_at,
        ms_played,
        null::bigint as media_duration_ms,
        track_name,
        artist_name,
        album_name,
        null::text as spotify_track_id,
        isrc,
        null::text as recording_mbid,
        null::text as service_track_id,
        platform,
        load_id
    from one_per_second
)

select * from final
