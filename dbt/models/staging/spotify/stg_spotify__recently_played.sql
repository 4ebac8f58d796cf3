{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'play_id'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['play_id', 'user_id'], 'unique': True},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['load_id']},
        ],
    )
}}

{#-
  The API's played_at is the end of playback (consecutive items are spaced by the newer track's
  duration). It gives no ms_played: estimate it as min(track duration, time since the previous play
  ended), flagged as estimated. The previous play may be an item stored by an earlier run.
-#}

with

new_items as (
    select
        user_id,
        played_at,
        item,
        load_id
    from {{ source('bronze', 'spotify_recently_played') }}
    {% if is_incremental() %}
    where load_id > {{ watermark('load_id') }}
    {% endif %}
),

{% if is_incremental() %}
previous_stored as (
    select distinct on (p.user_id) p.user_id, p.ended_at as played_at
    from {{ this }} as p
    join (select user_id, min(played_at) as first_new from new_items group by user_id) as n
        on n.user_id = p.user_id and p.ended_at < n.first_new
    order by p.user_id, p.ended_at desc
),
{% endif %}

items as (
    select
        user_id,
        played_at,
        item -> 'track' ->> 'uri' as content_uri,
        item -> 'track' ->> 'name' as track_name,
        item -> 'track' -> 'artists' -> 0 ->> 'name' as artist_name,
        item -> 'track' -> 'album' ->> 'name' as album_name,
        (item -> 'track' ->> 'duration_ms')::bigint as duration_ms,
        coalesce(item -> 'track' ->> 'type', 'track') as item_type,
        load_id
    from new_items
),

with_previous as (
    select
        items.*,
        lag(played_at) over (partition by user_id order by played_at) as previous_in_batch
    from items
),

estimated as (
    select
        w.*,
        coalesce(w.previous_in_batch {% if is_incremental() %}, ps.played_at{% endif %}) as previous_played_at
    from with_previous as w
    {% if is_incremental() %}
    left join previous_stored as ps on ps.user_id = w.user_id
    {% endif %}
),

final as (
    select
        {{ play_id('spotify_recently_played', 'spotify_api') }} as play_id,
        user_id,
        'spotify_api'::text as source,
        played_at as ended_at,
        (played_at at time zone 'UTC')::date as ended_date,
        greatest(0, least(
            coalesce(duration_ms, 0),
            coalesce(
                (extract(epoch from played_at - previous_played_at) * 1000)::bigint,
                coalesce(duration_ms, 0)
            )
        ))::bigint as ms_played,
        true as is_ms_played_estimated,
        case when item_type = 'episode' then 'episode' else 'track' end as content_type,
        content_uri,
        {{ clean_text('track_name') }} as track_name,
        {{ clean_text('artist_name') }} as artist_name,
        {{ clean_text('album_name') }} as album_name,
        'unknown'::text as platform,
        null::text as platform_raw,
        null::text as conn_country,
        null::text as reason_start,
        null::text as reason_end,
        null::boolean as shuffle,
        null::boolean as skipped,
        null::boolean as offline,
        null::timestamptz as offline_at,
        null::boolean as incognito_mode,
        load_id
    from estimated
)

select * from final
