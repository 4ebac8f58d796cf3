{{ config(materialized='view') }}

-- Each listener's top music albums with names as they are now (ranking: rank_albums).
select
    r.user_id,
    r.period,
    r.period_start,
    r.rank,
    r.album_key,
    d.album_name, d.artist_name,
    r.plays,
    r.counted_plays,
    r.ms_played,
    r.minutes_played
from {{ ref('rank_albums') }} as r
join {{ ref('dim_album') }} as d on d.album_key = r.album_key
