{{ config(materialized='view') }}

-- The last 30 days of plays with names, for "current listening" (served by fct_plays' indexes).
with

plays as (
    select * from {{ ref('fct_plays') }}
    where ended_at >= now() - interval '30 days'
),

final as (
    select
        p.user_id,
        p.play_id,
        p.ended_at,
        p.ended_at_local,
        p.local_date,
        p.local_hour,
        t.track_name,
        t.artist_name,
        t.album_name,
        t.spotify_track_uri,
        p.content_type,
        p.ms_played,
        p.minutes_played,
        p.is_counted_play,
        p.is_skip,
        p.is_ms_played_estimated,
        p.service,
        p.source,
        p.platform
    from plays as p
    join {{ ref('dim_track') }} as t on t.track_key = p.track_key
)

select * from final
