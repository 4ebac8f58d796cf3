{{
    config(
        unique_key='album_key',
    )
}}

-- depends_on: {{ ref('fct_plays') }} (the row-security policy reads it: macros/row_security.sql)
-- Albums (shows, audiobooks); attributes are the latest non-null values over all plays of the key, and
-- release date, type, label, cover from the catalog (the album of the latest track).
{% set wm = watermark() %}

with

{% if is_incremental() %}
changed_keys as (
    select album_key from {{ ref('int_plays__deduplicated') }} where _batch_load_id > {{ wm }}
    union
    {{ keys_with_new_catalog('album_key', wm) }}
),
{% endif %}

plays as (
    select p.*
    from {{ ref('int_plays__deduplicated') }} as p
    {% if is_incremental() %}
    where p.album_key in (select album_key from changed_keys)
    {% endif %}
),

from_plays as (
    select
        album_key,
        coalesce({{ latest_non_null('album_name') }}, '(unknown)') as album_name,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        {{ latest_non_null('artist_key') }} as artist_key,
        {{ latest_non_null('content_type') }} as content_type,
        {{ track_id(latest_non_null('content_uri', "content_uri like 'spotify:track:%'")) }} as spotify_track_id,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as plays_batch
    from plays
    group by album_key
),

final as (
    select
        p.album_key,
        p.album_name,
        p.artist_name,
        p.artist_key,
        p.content_type,
        p.spotify_track_id,
        t.album_id as spotify_album_id,
        t.artist_ids as spotify_artist_ids,
        coalesce(al.release_date, t.release_date) as release_date,
        coalesce(al.album_type, t.album_type) as album_type,
        al.label,
        al.total_tracks,
        coalesce(al.image_url, t.image_url) as image_url,
        p.last_played_at,
        greatest(p.plays_batch, t.load_id, al.load_id) as _batch_load_id
    from from_plays as p
    {{ catalog_joins('p') }}
)

select * from final
