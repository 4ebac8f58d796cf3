{{ config(materialized='view') }}

-- Weekly top artists across listeners (only those played by at least global_min_users people), named.
select
    g.week_start,
    g.rank,
    g.entity_key as artist_key,
    d.artist_name,
    g.listeners,
    g.plays,
    g.counted_plays,
    g.minutes_played
from {{ ref('global_rank_weekly') }} as g
join {{ ref('dim_artist') }} as d on d.artist_key = g.entity_key
where g.entity_type = 'artist'
