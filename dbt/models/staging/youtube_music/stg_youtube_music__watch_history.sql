-- YouTube Music plays from Google Takeout watch histories, in the conformed play columns
-- (models/intermediate/int_plays__conformed.yml). Takeout gives the start of a play and no duration.

with

source as (
    select * from {{ source('bronze', 'youtube_music_watch_history') }}
),

loads as (
    select load_id, format from {{ source('bronze', 'loaded_files') }}
),

typed as (
    select
        {{ play_id('youtube_music_watch_history', 'youtube_music_watch_history', 'source') }} as play_id,
        source.user_id,
        source.watched_at,
        -- the JSON layout gives milliseconds, the HTML page whole seconds
        case when loads.format = 'youtube_music_takeout_html' then 1000 else 1 end as precision_ms,
        -- "Watched <title>" (NBSP after "Watched" in some locales); a removed video's title is its link
        case
            when source.title is not distinct from 'Watched' || chr(160) || source.title_url
                or source.title is not distinct from 'Watched ' || source.title_url then null
            else {{ clean_text("regexp_replace(source.title, '^Watched[[:space:]\\u00a0]+', '')") }}
        end as track_name,
        -- music channels are named "<Artist> - Topic"
        {{ clean_text("regexp_replace(source.channel_name, ' - Topic$', '')") }} as artist_name,
        source.video_id,
        source.load_id
    from source
    left join loads on loads.load_id = source.load_id
),

-- one row per play: the same play loaded twice, or present in both the JSON and the HTML export of
-- the same history (the HTML drops the milliseconds), is kept once: the most precise, earliest load
deduplicated as (
    select distinct on (user_id, date_trunc('second', watched_at), coalesce(video_id, track_name)) *
    from typed
    order by
        user_id, date_trunc('second', watched_at), coalesce(video_id, track_name),
        precision_ms, load_id, play_id
),

final as (
    select
        play_id,
        user_id,
        'youtube_music'::text as service,
        'youtube_music_watch_history'::text as source,
        watched_at as stamped_at,
        'start'::text as stamp,
        precision_ms::integer as precision_ms,
        watched_at as started_at,
        null::timestamptz as ended_at,
        null::bigint as ms_played,
        null::bigint as media_duration_ms,
        track_name,
        artist_name,
        null::text as album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        null::text as recording_mbid,
        video_id as service_track_id,
        'unknown'::text as platform,
        load_id
    from deduplicated
)

select * from final
