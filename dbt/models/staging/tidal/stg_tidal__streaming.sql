-- Tidal streams from the export's streaming.csv, in the conformed play columns
-- (models/intermediate/int_plays__conformed.yml). entry_date is the START, to the minute, in the
-- row's time zone (tracktracker_assets/tidal/streaming.py).

with

source as (
    select * from {{ source('bronze', 'tidal_streaming') }}
    {{ only_new_loads() }}
),

typed as (
    select
        {{ play_id('tidal_streaming', 'tidal_streaming') }} as play_id,
        user_id,
        started_at,
        round(stream_duration_ms)::bigint as ms_played,
        {{ clean_text('track_title') }} as track_name,
        {{ clean_text('artist_name') }} as artist_name,
        case
            when client_name ilike '%web player%' then 'web'
            else {{ normalise_platform('client_name') }}
        end as platform,
        product_type,
        load_id
    from source
),

-- a row whose product is not a track (ALBUM: the album as a whole, no track played) is no play
plays as (
    select * from typed
    where product_type is null or upper(product_type) = 'TRACK'
),

deduplicated as (
    select distinct on (play_id) *
    from plays
    {{ not_staged_yet('plays') }}
    order by play_id, load_id
),

final as (
    select
        play_id,
        user_id,
        'tidal'::text as service,
        'tidal_streaming'::text as source,
        started_at as stamped_at,
        'start'::text as stamp,
        60000 as precision_ms,
        started_at,
        null::timestamptz as ended_at,
        ms_played,
        null::bigint as media_duration_ms,
        track_name,
        artist_name,
        null::text as album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        null::text as recording_mbid,
        null::text as service_track_id,
        platform,
        load_id
    from deduplicated
)

select * from final
