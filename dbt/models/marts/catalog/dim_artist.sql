{{
    config(
        unique_key='artist_key',
    )
}}

-- depends_on: {{ ref('fct_plays') }} (the row-security policy reads it: macros/row_security.sql)
{#-
  Artists of tracks, shows of episodes and books/authors of audiobooks: whoever a play is "by".
  Attributes are the latest non-null values over all plays of the key (order-independent); the
  Spotify id, genres and picture come from the catalog: the primary artist of the latest track.
  The unknown artist stands for every artist-less play of every listener: none of its attributes come
  from any one play (a listener who sees it would otherwise see another's latest artist-less track).
-#}
{% set wm = watermark() %}

with

{% if is_incremental() %}
changed_keys as (
    select artist_key from {{ ref('int_plays__deduplicated') }} where _batch_load_id > {{ wm }}
    union
    {{ keys_with_new_catalog('artist_key', wm) }}
    union
    -- an unknown artist written before its attributes were fixed (once)
    select artist_key from {{ this }} where artist_key = {{ unknown_key() }} and artist_type <> 'unknown'
),
{% endif %}

plays as (
    select p.*
    from {{ ref('int_plays__deduplicated') }} as p
    {% if is_incremental() %}
    where p.artist_key in (select artist_key from changed_keys)
    {% endif %}
),

from_plays as (
    select
        artist_key,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        case
            when artist_key = {{ unknown_key() }} then 'unknown'
            else
                case {{ latest_non_null('content_type') }}
                    when 'track' then 'artist'
                    when 'episode' then 'show'
                    when 'audiobook' then 'audiobook'
                    else 'unknown'
                end
        end as artist_type,
        case when artist_key <> {{ unknown_key() }} then
            {{ track_id(latest_non_null('content_uri', "content_uri like 'spotify:track:%'")) }}
        end as spotify_track_id,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as plays_batch
    from plays
    group by artist_key
),

final as (
    select
        p.artist_key,
        p.artist_name,
        p.artist_type,
        p.spotify_track_id,
        t.album_id as spotify_album_id,
        t.artist_ids as spotify_artist_ids,
        split_part(t.artist_ids, ',', 1) as spotify_artist_id,
        ar.genres,
        ar.image_url,
        p.last_played_at,
        greatest(p.plays_batch, t.load_id, ar.load_id) as _batch_load_id
    from from_plays as p
    {{ catalog_joins('p') }}
    left join {{ ref('stg_spotify__catalog') }} as ar
        on ar.kind = 'artist' and ar.status = 'ok' and ar.id = split_part(t.artist_ids, ',', 1)
)

select * from final
