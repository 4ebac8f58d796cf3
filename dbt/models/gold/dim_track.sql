{{
    config(
        materialized='incremental',
        unique_key='track_key',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['track_key'], 'unique': True}, {'columns': ['artist_key']}, {'columns': ['album_key']}],
    )
}}

-- One row per conformed track, episode or audiobook chapter; names as most recently seen.
with

plays as (
    select * from {{ ref('plays') }}
    {% if is_incremental() %}
    where _batch_load_id > {{ watermark() }}
    {% endif %}
),

latest as (
    select distinct on (track_key)
        track_key,
        content_type,
        track_name,
        artist_name,
        album_name,
        artist_key,
        album_key
    from plays
    order by track_key, ended_at desc
),

uris as (
    select
        track_key,
        mode() within group (order by content_uri) as spotify_uri
    from plays
    where content_uri is not null
    group by track_key
),

final as (
    select
        l.track_key,
        l.content_type,
        coalesce(l.track_name, '(unknown)') as track_name,
        coalesce(l.artist_name, '(unknown)') as artist_name,
        l.album_name,
        l.artist_key,
        l.album_key,
        {% if is_incremental() %}
        coalesce(u.spotify_uri, existing.spotify_track_uri) as spotify_track_uri,
        {% else %}
        u.spotify_uri as spotify_track_uri,
        {% endif %}
        (select max(_batch_load_id) from plays) as _batch_load_id
    from latest as l
    left join uris as u on u.track_key = l.track_key
    {% if is_incremental() %}
    left join {{ this }} as existing on existing.track_key = l.track_key
    {% endif %}
)

select * from final
