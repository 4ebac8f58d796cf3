{{ config(materialized='view') }}

{#-
  Every play-bearing staging row of every service in one shape: the conformed play contract
  (docs in the .yml) plus Spotify's own details (null for the other services). One row per staging
  row; nothing is merged here (int_plays__deduplicated decides which rows are one event).

  A view: it only renames and derives, and a table would copy every play once more per build. The
  incremental model downstream filters it by load_id and (user_id, ended_date), which PostgreSQL
  pushes into each branch (Spotify's staging tables are indexed on both, the other services'
  incremental ones on load_id).

  Each row knows when it started and ended as well as its source allows: a start-stamped row without
  a known duration ends at its start plus the track's length, else at its start (has_known_end
  false), so that every row has an ended_at and an ended_date, the unit incremental models replace.
-#}

with

spotify as (
    {%- for model, source_name, tier, precision in [
        ('stg_spotify__extended_history', 'spotify_extended', 1, 1),
        ('stg_spotify__account_history', 'spotify_account', 2, 60000),
        ('stg_spotify__recently_played', 'spotify_api', 3, 1),
    ] %}
    select
        play_id,
        user_id,
        'spotify'::text as service,
        source,
        {{ tier }} as source_tier,
        ended_at as stamped_at,
        'end'::text as stamp,
        {{ precision }} as precision_ms,
        -- Spotify's started_at has always been the end minus ms_played (pauses make it later)
        ended_at - ms_played * interval '1 millisecond' as started_at,
        ended_at,
        true as has_known_end,
        ended_date,
        ms_played,
        is_ms_played_estimated,
        null::bigint as media_duration_ms,
        content_type,
        content_uri,
        track_name,
        artist_name,
        album_name,
        {{ track_id('content_uri') }} as spotify_track_id,
        null::text as isrc,
        null::text as recording_mbid,
        null::text as service_track_id,
        platform,
        platform_raw,
        conn_country,
        reason_start,
        reason_end,
        shuffle,
        skipped,
        offline,
        offline_at,
        incognito_mode,
        load_id
    from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{%- set tiers = play_tiers(play_sources()) %}

{%- set contract = ['play_id', 'user_id', 'service', 'source', 'stamped_at', 'stamp', 'precision_ms',
    'started_at', 'ended_at', 'ms_played', 'media_duration_ms', 'track_name', 'artist_name', 'album_name',
    'spotify_track_id', 'isrc', 'recording_mbid', 'service_track_id', 'platform', 'load_id'] %}

-- the contract's columns by name (a model's column order or an extra column cannot shift the union)
other_services as (
    {%- for t in tiers %}
    select {{ contract | join(', ') }}, {{ t.tier }} as source_tier from {{ ref(t.model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if tiers | length == 0 %}
    -- no other service has a play model yet: an empty relation of the contract's shape
    select
        null::text as play_id, null::text as user_id, null::text as service, null::text as source,
        null::timestamptz as stamped_at, null::text as stamp, null::integer as precision_ms,
        null::timestamptz as started_at, null::timestamptz as ended_at, null::bigint as ms_played,
        null::bigint as media_duration_ms, null::text as track_name, null::text as artist_name,
        null::text as album_name, null::text as spotify_track_id, null::text as isrc,
        null::text as recording_mbid, null::text as service_track_id, null::text as platform,
        null::bigint as load_id, 0 as source_tier
    where false
    {%- endif %}
),

others_timed as (
    select
        *,
        coalesce(started_at, case when stamp = 'start' then stamped_at end) as known_start,
        coalesce(ended_at, case when stamp = 'end' then stamped_at end) as known_end
    from other_services
),

others_conformed as (
    select
        play_id,
        user_id,
        service,
        source,
        source_tier,
        stamped_at,
        stamp,
        precision_ms,
        coalesce(known_start, known_end - ms_played * interval '1 millisecond') as started_at,
        coalesce(
            known_end,
            known_start + coalesce(ms_played, media_duration_ms, 0) * interval '1 millisecond'
        ) as ended_at,
        known_end is not null or ms_played is not null as has_known_end,
        (coalesce(
            known_end,
            known_start + coalesce(ms_played, media_duration_ms, 0) * interval '1 millisecond'
        ) at time zone 'UTC')::date as ended_date,
        ms_played,
        false as is_ms_played_estimated,
        media_duration_ms,
        'track'::text as content_type,
        'spotify:track:' || spotify_track_id as content_uri,
        track_name,
        artist_name,
        album_name,
        spotify_track_id,
        isrc,
        recording_mbid,
        service_track_id,
        platform,
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
    from others_timed
),

final as (
    select * from spotify
    union all
    select * from others_conformed
)

select * from final
