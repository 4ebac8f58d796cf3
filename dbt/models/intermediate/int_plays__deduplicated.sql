{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'ended_date'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['play_id'], 'unique': True},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['_batch_load_id']},
            {'columns': ['track_key']},
            {'columns': ['artist_key']},
            {'columns': ['album_key']},
            {'columns': ['user_id', 'timezone']},
        ],
    )
}}

{#-
  One row per listening event from every source.

  Incremental unit: a user's UTC day. A run recomputes every day that new staging rows touch, one
  day either side (a duplicate or a session can straddle midnight), reading one more day either side
  as context; dbt then replaces exactly those user-days. The cost follows the new rows, not history.

  Duplicates across sources are one event; the richer source wins (extended > account > API):
    - account vs extended: same user, names and ms_played, end within a minute (account data has
      minute precision);
    - API vs extended: same user and track URI, end times within `dedupe_window_s`;
    - API vs account: same user and names, end times within the window (plus the account minute).
  The winner keeps the list of sources it was seen in, and a track URI from the API if it had none.
-#}

{% set window = var('dedupe_window_s') | int %}

with

staged as (
    select * from {{ ref('stg_spotify__extended_history') }}
    union all
    select * from {{ ref('stg_spotify__account_history') }}
    union all
    select * from {{ ref('stg_spotify__recently_played') }}
),

users as (
    select user_id, timezone from {{ ref('stg_registry__users') }}
),

{% if is_incremental() %}

new_rows as (
    select user_id, ended_date, load_id
    from staged
    where load_id > {{ watermark() }}
),

-- a user whose time zone changed: all their days, since local dates and hours move (two index
-- probes per user, min and max of the zone their rows carry, instead of scanning every play)
moved_users as (
    select u.user_id
    from users as u
    where exists (select 1 from {{ this }} as p where p.user_id = u.user_id)
        and (
            (select min(p.timezone) from {{ this }} as p where p.user_id = u.user_id) is distinct from u.timezone
            or (select max(p.timezone) from {{ this }} as p where p.user_id = u.user_id) is distinct from u.timezone
        )
),

changed_days as (
    select distinct user_id, ended_date from new_rows
    union
    select distinct p.user_id, p.ended_date
    from {{ this }} as p
    where p.user_id in (select user_id from moved_users)
),

affected_days as (
    select distinct c.user_id, c.ended_date + shift.days as ended_date
    from changed_days as c
    cross join (values (-1), (0), (1)) as shift (days)
),

context_days as (
    select distinct a.user_id, a.ended_date + shift.days as ended_date
    from affected_days as a
    cross join (values (-1), (0), (1)) as shift (days)
),

candidates as (
    select s.*
    from staged as s
    join context_days as c on c.user_id = s.user_id and c.ended_date = s.ended_date
),

batch as (
    select greatest({{ watermark() }}, coalesce(max(load_id), 0)) as load_id from new_rows
),

{% else %}

candidates as (
    select * from staged
),

batch as (
    select coalesce(max(load_id), 0) as load_id from staged
),

{% endif %}

extended as (
    select * from candidates where source = 'spotify_extended'
),

account as (
    select * from candidates where source = 'spotify_account'
),

api as (
    select * from candidates where source = 'spotify_api'
),

account_in_extended as (
    select a.play_id as duplicate_id, min(e.play_id) as winner_id
    from account as a
    join extended as e
        on e.user_id = a.user_id
        and e.ms_played = a.ms_played
        and {{ name_key('e.track_name') }} = {{ name_key('a.track_name') }}
        -- audiobooks: account data names the author, extended history the book
        and case when a.content_type = 'audiobook'
            then {{ name_key('e.album_name') }} = {{ name_key('a.album_name') }}
            else {{ name_key('e.artist_name') }} = {{ name_key('a.artist_name') }}
        end
        and e.ended_at >= a.ended_at - interval '1 minute'
        and e.ended_at < a.ended_at + interval '2 minutes'
    group by a.play_id
),

account_kept as (
    select a.*
    from account as a
    where not exists (select 1 from account_in_extended as m where m.duplicate_id = a.play_id)
),

api_in_extended as (
    select a.play_id as duplicate_id, min(e.play_id) as winner_id
    from api as a
    join extended as e
        on e.user_id = a.user_id
        and e.content_uri = a.content_uri
        and e.ended_at between a.ended_at - interval '{{ window }} seconds'
            and a.ended_at + interval '{{ window }} seconds'
    group by a.play_id
),

api_in_account as (
    select a.play_id as duplicate_id, min(k.play_id) as winner_id
    from api as a
    join account_kept as k
        on k.user_id = a.user_id
        and {{ name_key('k.track_name') }} = {{ name_key('a.track_name') }}
        and {{ name_key('k.artist_name') }} = {{ name_key('a.artist_name') }}
        and a.ended_at between k.ended_at - interval '{{ window }} seconds'
            and k.ended_at + interval '{{ window + 60 }} seconds'
    where not exists (select 1 from api_in_extended as x where x.duplicate_id = a.play_id)
    group by a.play_id
),

links as (
    select winner_id, 'spotify_account' as source, null::text as content_uri
    from account_in_extended
    union all
    select m.winner_id, 'spotify_api', null::text
    from api_in_extended as m
    union all
    select m.winner_id, 'spotify_api', a.content_uri
    from api_in_account as m
    join api as a on a.play_id = m.duplicate_id
),

winners as (
    select * from extended
    union all
    select * from account_kept
    union all
    select a.*
    from api as a
    where not exists (select 1 from api_in_extended as x where x.duplicate_id = a.play_id)
        and not exists (select 1 from api_in_account as y where y.duplicate_id = a.play_id)
),

with_sources as (
    select
        w.*,
        coalesce(w.content_uri, l.linked_uri) as resolved_uri,
        (
            select string_agg(distinct s, ',' order by s)
            from unnest(array_append(coalesce(l.linked_sources, '{}'), w.source)) as s
        ) as sources
    from winners as w
    left join (
        select winner_id, array_agg(source) as linked_sources, max(content_uri) as linked_uri
        from links
        group by winner_id
    ) as l on l.winner_id = w.play_id
),

localised as (
    select
        p.*,
        coalesce(u.timezone, 'UTC') as timezone,
        p.ended_at - p.ms_played * interval '1 millisecond' as started_at,
        p.ended_at at time zone coalesce(u.timezone, 'UTC') as ended_at_local
    from with_sources as p
    left join users as u on u.user_id = p.user_id
),

session_starts as (
    select
        *,
        case
            when lag(ended_at) over by_user is null then 1
            when started_at - lag(ended_at) over by_user
                > interval '{{ var("session_gap_minutes") }} minutes' then 1
            else 0
        end as starts_session
    from localised
    window by_user as (partition by user_id order by ended_at, play_id)
),

sessions as (
    select
        *,
        sum(starts_session) over (partition by user_id order by ended_at, play_id) as session_number
    from session_starts
),

final as (
    select
        play_id,
        user_id,
        source,
        sources,
        ended_at,
        ended_date,
        started_at,
        ms_played,
        is_ms_played_estimated,
        ms_played >= {{ var('counted_play_ms') }} as is_counted_play,
        coalesce(skipped, reason_end = 'fwdbtn', false) as is_skip,
        content_type,
        resolved_uri as content_uri,
        track_name,
        artist_name,
        album_name,
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
        timezone,
        ended_at_local,
        ended_at_local::date as local_date,
        extract(hour from ended_at_local)::int as local_hour,
        extract(isodow from ended_at_local)::int as local_weekday,
        md5(user_id || '|' || extract(epoch from
            min(ended_at) over (partition by user_id, session_number)
        )::text) as session_id,
        {{ track_key('content_type', 'track_name', 'artist_name', 'resolved_uri') }} as track_key,
        {{ artist_key('content_type', 'artist_name') }} as artist_key,
        {{ album_key('content_type', 'artist_name', 'album_name') }} as album_key,
        load_id,
        (select load_id from batch) as _batch_load_id
    from sessions
)

select * from final
{% if is_incremental() %}
where exists (
    select 1 from affected_days as a
    where a.user_id = final.user_id and a.ended_date = final.ended_date
)
{% endif %}
