{{ config(materialized='view') }}

-- Each listener's top music tracks with names as they are now (ranking: rank_music).
select
    r.user_id,
    r.period,
    r.period_start,
    r.rank,
    r.entity_key as track_key,
    d.track_name, d.artist_name, d.album_name,
    r.plays,
    r.counted_plays,
    r.ms_played,
    r.minutes_played
from {{ ref('rank_music') }} as r
join {{ ref('dim_track') }} as d on d.track_key = r.entity_key
where r.entity_type = 'track'
