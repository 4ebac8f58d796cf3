{{ config(materialized='view') }}

-- Discovery: when each listener first played each artist or show, with names as they are now.
select
    f.user_id,
    f.artist_key,
    a.artist_name,
    a.artist_type,
    f.first_played_at,
    f.first_local_date,
    f.first_month,
    f.plays,
    f.counted_plays,
    f.minutes_played
from {{ ref('first_plays_by_artist') }} as f
join {{ ref('dim_artist') }} as a on a.artist_key = f.artist_key
