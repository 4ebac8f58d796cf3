{{ config(materialized='view') }}

-- Weekly top tracks across listeners (only those played by at least global_min_users people), named.
select
    g.week_start,
    g.rank,
    g.entity_key as track_key,
    d.track_name, d.artist_name,
    g.listeners,
    g.plays,
    g.counted_plays,
    g.minutes_played
from {{ ref('global_rank_weekly') }} as g
join {{ ref('dim_track') }} as d on d.track_key = g.entity_key
where g.entity_type = 'track'
