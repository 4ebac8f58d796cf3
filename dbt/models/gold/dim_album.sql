{{
    config(
        materialized='incremental',
        unique_key='album_key',
        incremental_strategy='delete+insert',
    )
}}

-- Albums (shows, audiobooks); attributes are the latest non-null values over all plays of the key.
with

plays as (
    select p.*
    from {{ ref('plays') }} as p
    {% if is_incremental() %}
    where p.album_key in (select album_key from {{ ref('plays') }} where _batch_load_id > {{ watermark() }})
    {% endif %}
),

final as (
    select
        album_key,
        coalesce({{ latest_non_null('album_name') }}, '(unknown)') as album_name,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        {{ latest_non_null('artist_key') }} as artist_key,
        {{ latest_non_null('content_type') }} as content_type,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as _batch_load_id
    from plays
    group by album_key
)

select * from final
