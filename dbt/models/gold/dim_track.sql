{{
    config(
        materialized='incremental',
        unique_key='track_key',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['artist_key']}, {'columns': ['album_key']}],
    )
}}

{#-
  One row per conformed track, episode or audiobook chapter. Each attribute is its latest non-null
  value over every play of the key, so the result does not depend on the order data arrived in; an
  incremental run recomputes only the keys that new plays touched, from all their plays.
-#}

with

plays as (
    select p.*
    from {{ ref('plays') }} as p
    {% if is_incremental() %}
    where p.track_key in (select track_key from {{ ref('plays') }} where _batch_load_id > {{ watermark() }})
    {% endif %}
),

final as (
    select
        track_key,
        {{ latest_non_null('content_type') }} as content_type,
        coalesce({{ latest_non_null('track_name') }}, '(unknown)') as track_name,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        {{ latest_non_null('album_name') }} as album_name,
        {{ latest_non_null('artist_key') }} as artist_key,
        {{ latest_non_null('album_key', "album_key <> " ~ unknown_key()) }} as album_key,
        {{ latest_non_null('content_uri') }} as spotify_track_uri,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as _batch_load_id
    from plays
    group by track_key
)

select
    track_key,
    content_type,
    track_name,
    artist_name,
    album_name,
    artist_key,
    coalesce(album_key, {{ unknown_key() }}) as album_key,
    spotify_track_uri,
    last_played_at,
    _batch_load_id
from final
