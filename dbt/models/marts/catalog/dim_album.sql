{{
    config(
        unique_key='album_key',
    )
}}

-- depends_on: {{ ref('fct_plays') }} (the row-security policy reads it: macros/row_security.sql)
-- Albums (shows, audiobooks); attributes are the latest non-null values over all plays of the key, and
-- release date, type, label, cover from the catalog (the album of the latest track). The unknown album
-- stands for every album-less play of every listener: none of its attributes come from any one play
-- (a listener who sees it would otherwise see the artist and track of another's latest such play).
{% set wm = watermark() %}

with

{% if is_incremental() %}
changed_keys as (
    select album_key from {{ ref('int_plays__deduplicated') }} where _batch_load_id > {{ wm }}
    union
    {{ keys_with_new_catalog('album_key', wm) }}
    union
    -- an unknown album written before its attributes were fixed (once)
    select album_key from {{ this }}
    where album_key = {{ unknown_key() }} and content_type is distinct from 'unknown'
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
        case when album_key = {{ unknown_key() }} then '(unknown)'
            else coalesce({{ latest_non_null('artist_name') }}, '(unknown)') end as artist_name,
        case when album_key = {{ unknown_key() }} then {{ unknown_key() }}
            else {{ latest_non_null('artist_key') }} end as artist_key,
        case when album_key = {{ unknown_key() }} then 'unknown'
            else {{ latest_non_null('content_type') }} end as content_type,
        case when album_key <> {{ unknown_key() }} then
            {{ track_id(latest_non_null('content_uri', "content_uri like 'spotify:track:%'")) }}
        end as spotify_track_id,
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
