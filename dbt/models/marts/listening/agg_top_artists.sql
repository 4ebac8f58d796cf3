{{ config(materialized='view') }}

-- Each listener's top music artists with names as they are now (ranking: rank_music).
select
    r.user_id,
    r.period,
    r.period_start,
    r.rank,
    r.entity_key as artist_key,
    d.artist_name,
    r.plays,
    r.counted_plays,
    r.ms_played,
    r.minutes_played
from {{ ref('rank_music') }} as r
join {{ ref('dim_artist') }} as d on d.artist_key = r.entity_key
where r.entity_type = 'artist'
