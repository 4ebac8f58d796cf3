{{ config(materialized='view') }}

-- Each listener's top music albums with names as they are now (ranking: rank_music).
select
    r.user_id,
    r.period,
    r.period_start,
    r.rank,
    r.entity_key as album_key,
    d.album_name, d.artist_name,
    r.plays,
    r.counted_plays,
    r.ms_played,
    r.minutes_played
from {{ ref('rank_music') }} as r
join {{ ref('dim_album') }} as d on d.album_key = r.entity_key
where r.entity_type = 'album'
