{{
    config(
        materialized='incremental',
        unique_key='artist_key',
        incremental_strategy='delete+insert',
    )
}}

-- Artists of tracks, shows of episodes and books/authors of audiobooks: whoever a play is "by".
-- Attributes are the latest non-null values over all plays of the key (order-independent).
with

plays as (
    select p.*
    from {{ ref('plays') }} as p
    {% if is_incremental() %}
    where p.artist_key in (select artist_key from {{ ref('plays') }} where _batch_load_id > {{ watermark() }})
    {% endif %}
),

final as (
    select
        artist_key,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        case {{ latest_non_null('content_type') }}
            when 'track' then 'artist'
            when 'episode' then 'show'
            when 'audiobook' then 'audiobook'
            else 'unknown'
        end as artist_type,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as _batch_load_id
    from plays
    group by artist_key
)

select * from final
