{{
    config(
        materialized='incremental',
        unique_key='artist_key',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['artist_key'], 'unique': True}],
    )
}}

-- Artists of tracks, shows of episodes and books/authors of audiobooks: whoever a play is "by".
with

plays as (
    select * from {{ ref('plays') }}
    {% if is_incremental() %}
    where _batch_load_id > {{ watermark() }}
    {% endif %}
),

final as (
    select distinct on (artist_key)
        artist_key,
        coalesce(artist_name, '(unknown)') as artist_name,
        case content_type
            when 'track' then 'artist'
            when 'episode' then 'show'
            when 'audiobook' then 'audiobook'
            else 'unknown'
        end as artist_type,
        _batch_load_id
    from plays
    order by artist_key, ended_at desc
)

select * from final
