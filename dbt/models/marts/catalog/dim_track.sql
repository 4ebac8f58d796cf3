{{
    config(
        unique_key='track_key',
        indexes=[
            {'columns': ['artist_key']},
            {'columns': ['album_key']},
            {'columns': ['spotify_track_id']},
            {'columns': ['spotify_album_id']},
        ],
    )
}}

-- depends_on: {{ ref('fct_plays') }} (the row-security policy reads it: macros/row_security.sql)
{#-
  One row per conformed track, episode or audiobook chapter. Attributes from plays are their latest
  non-null value over every play of the key (order-independent); details from the Spotify catalog
  (duration, ISRC, release date, album type, cover, all artists and their genres) where fetched.
  An incremental run recomputes the keys new plays touched and those whose catalog details arrived.
-#}
{% set wm = watermark() %}

with

{% if is_incremental() %}
changed_keys as (
    select track_key from {{ ref('int_plays__deduplicated') }} where _batch_load_id > {{ wm }}
    union
    {{ keys_with_new_catalog('track_key', wm) }}
),
{% endif %}

plays as (
    select p.*
    from {{ ref('int_plays__deduplicated') }} as p
    {% if is_incremental() %}
    where p.track_key in (select track_key from changed_keys)
    {% endif %}
),

from_plays as (
    select
        track_key,
        {{ latest_non_null('content_type') }} as content_type,
        coalesce({{ latest_non_null('track_name') }}, '(unknown)') as track_name,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        {{ latest_non_null('album_name') }} as album_name,
        {{ latest_non_null('artist_key') }} as artist_key,
        coalesce({{ latest_non_null('album_key', "album_key <> " ~ unknown_key()) }}, {{ unknown_key() }})
            as album_key,
        {{ latest_non_null('content_uri') }} as spotify_track_uri,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as plays_batch
    from plays
    group by track_key
),

keyed as (
    select *, {{ track_id('spotify_track_uri') }} as spotify_track_id from from_plays
),

final as (
    select
        k.track_key,
        k.content_type,
        k.track_name,
        k.artist_name,
        k.album_name,
        k.artist_key,
        k.album_key,
        k.spotify_track_uri,
        k.spotify_track_id,
        t.album_id as spotify_album_id,
        t.artist_ids as spotify_artist_ids,
        t.duration_ms,
        t.isrc,
        t.explicit,
        coalesce(al.release_date, t.release_date) as release_date,
        coalesce(al.album_type, t.album_type) as album_type,
        coalesce(al.image_url, t.image_url) as image_url,
        {{ artist_genres('t.artist_ids') }} as genres,
        k.last_played_at,
        greatest(k.plays_batch, t.load_id, al.load_id, {{ artists_load_id('t.artist_ids') }}) as _batch_load_id
    from keyed as k
    {{ catalog_joins('k') }}
)

select * from final
