-- Web API recently-played items as stored: who played when, and when the pull stored it (the
-- freshness of each listener's pulls; the plays themselves are stg_spotify__recently_played).
select
    user_id,
    played_at,
    pull_id,
    load_id,
    _loaded_at as loaded_at
from {{ source('bronze', 'spotify_recently_played') }}
