{{ config(materialized='view') }}

-- Each listener's top music artists with names as they are now (ranking: rank_artists).
select
    r.user_id,
    r.period,
    r.period_start,
    r.rank,
    r.artist_key,
    d.artist_name,
    r.plays,
    r.counted_plays,
    r.ms_played,
    r.minutes_played
from {{ ref('rank_artists') }} as r
join {{ ref('dim_artist') }} as d on d.artist_key = r.artist_key
