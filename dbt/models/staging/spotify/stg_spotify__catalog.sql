{{
    config(
        materialized='incremental',
        unique_key=['kind', 'id'],
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['kind', 'id'], 'unique': True}, {'columns': ['load_id']}],
    )
}}

-- Spotify catalog payloads typed: tracks, albums and artists (not_found rows kept so ids are not
-- asked for again; they carry no attributes).
with

source as (
    select * from {{ source('bronze', 'spotify_catalog') }}
    {% if is_incremental() %}
    where load_id > {{ watermark('load_id') }}
    {% endif %}
),

final as (
    select
        kind,
        id,
        status,
        payload ->> 'name' as name,
        -- tracks
        (payload ->> 'duration_ms')::int as duration_ms,
        payload -> 'external_ids' ->> 'isrc' as isrc,
        (payload ->> 'explicit')::boolean as explicit,
        payload -> 'album' ->> 'id' as album_id,
        (
            select string_agg(artist ->> 'id', ',' order by position)
            from jsonb_array_elements(case when kind = 'track' then payload -> 'artists' end)
                with ordinality as artists (artist, position)
        ) as artist_ids,
        -- albums (tracks: their album's)
        coalesce(payload ->> 'release_date', payload -> 'album' ->> 'release_date') as release_date,
        coalesce(payload ->> 'album_type', payload -> 'album' ->> 'album_type') as album_type,
        (payload ->> 'total_tracks')::int as total_tracks,
        payload ->> 'label' as label,
        -- artists
        (
            select string_agg(genre, ', ' order by genre)
            from jsonb_array_elements_text(case when kind = 'artist' then payload -> 'genres' end) as genre
        ) as genres,
        coalesce(payload -> 'images' -> 0 ->> 'url', payload -> 'album' -> 'images' -> 0 ->> 'url') as image_url,
        fetched_at,
        load_id
    from source
)

select * from final
