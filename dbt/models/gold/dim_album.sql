{{
    config(
        materialized='incremental',
        unique_key='album_key',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['album_key'], 'unique': True}],
    )
}}

with

plays as (
    select * from {{ ref('plays') }}
    {% if is_incremental() %}
    where _batch_load_id > {{ watermark() }}
    {% endif %}
),

final as (
    select distinct on (album_key)
        album_key,
        coalesce(album_name, '(unknown)') as album_name,
        coalesce(artist_name, '(unknown)') as artist_name,
        artist_key,
        content_type,
        _batch_load_id
    from plays
    order by album_key, ended_at desc
)

select * from final
