{#-
  Apple Music Play Activity as plays (the conformed play contract, int_plays__conformed.yml).

  What counts as one play:
  - only end events: Event Type PLAY_END, or an empty Event Type with an End Reason Type (files before
    about 2018 left the type empty on end events); PLAY_START, LYRIC_DISPLAY and the like are not
    plays, nor ads, the per-day AGGREGATE_NON_CATALOG_PLAY_TIME rows, events without a song name or
    without an end, and zero or negative play durations (Apple writes those for failed loads);
  - one event recorded twice (two loads, overlapping exports) is one event: distinct on play_id;
  - a seek or pause splits a song into several end events: consecutive events of one person for the
    same song, album and artist, each beginning at most 5 s after the previous one ended (times that
    touch or overlap), are fragments of one play, unless the previous one ended naturally (then the
    next is a repeat). Their durations add up, capped at the song's length; the play keeps the first
    fragment's play_id, starts with the first and ends with the last.
  Apple's Event Start/End Timestamps are UTC (UTC Offset In Seconds gives the listener's local time,
  kept in bronze); a play is stamped at its END, to the millisecond.
  2022+ files name no artist: it comes from stg_apple_music__artist_hints, first a library track of
  the same title and album naming exactly one artist, else any hint of the same title naming exactly
  one; otherwise it stays null.
-#}

{%- set merge_gap = "interval '5 seconds'" -%}

with

source as (
    select * from {{ source('bronze', 'apple_music_play_activity') }}
),

artist_hints as (
    select * from {{ ref('stg_apple_music__artist_hints') }}
),

end_events as (
    select
        {{ play_id('apple_music_play_activity', 'apple_music_play_activity') }} as play_id,
        user_id,
        coalesce(
            event_start_at, event_end_at - make_interval(secs => play_duration_ms / 1000.0)
        ) as started_at,
        event_end_at as ended_at,
        play_duration_ms,
        case when media_duration_ms > 0 then media_duration_ms end as media_duration_ms,
        {{ clean_text('song_name') }} as track_name,
        {{ clean_text('coalesce(artist_name, container_artist_name)') }} as artist_name,
        {{ clean_text('coalesce(album_name, container_album_name)') }} as album_name,
        end_reason_type,
        case
            when device_os_name ilike 'tvos%' or build_version ~* '(AppleTV|tvOS/)' then 'tv'
            when device_os_name ilike any (array['ios%', 'ipados%'])
                or build_version ~* '(iOS/|iPhone|iPad)' then 'ios'
            when device_os_name ilike any (array['macos%', 'os x%'])
                or build_version ~* '(macOS/|Macintosh|OS X)' then 'macos'
            when device_os_name ilike 'windows%' or build_version ~* 'windows' then 'windows'
            when device_os_name ilike 'android%' or build_version ~* 'android' then 'android'
            when build_version ~* '(web|browser)' then 'web'
            when {{ clean_text('device_os_name') }} is null and {{ clean_text('build_version') }} is null
                then 'unknown'
            else 'other'
        end as platform,
        load_id
    from source
    where
        (event_type = 'PLAY_END' or (event_type is null and end_reason_type is not null))
        and event_end_at is not null
        and {{ clean_text('song_name') }} is not null
        and play_duration_ms > 0
        and coalesce(item_type, '') not in ('AD', 'AGGREGATE_NON_CATALOG_PLAY_TIME')
),

deduplicated as (
    select distinct on (play_id) *
    from end_events
    order by play_id, load_id
),

sequenced as (
    select
        *,
        lag(track_name) over listening as previous_track_name,
        lag(album_name) over listening as previous_album_name,
        lag(artist_name) over listening as previous_artist_name,
        lag(ended_at) over listening as previous_ended_at,
        lag(end_reason_type) over listening as previous_end_reason_type
    from deduplicated
    window listening as (partition by user_id order by started_at, ended_at, play_id)
),

flagged as (
    select
        *,
        case
            when previous_ended_at is not null
                and {{ name_key('track_name') }} = {{ name_key('previous_track_name') }}
                and {{ name_key('album_name') }} = {{ name_key('previous_album_name') }}
                and {{ name_key('artist_name') }} = {{ name_key('previous_artist_name') }}
                and previous_end_reason_type is distinct from 'NATURAL_END_OF_TRACK'
                and started_at <= previous_ended_at + {{ merge_gap }}
                then 0
            else 1
        end as starts_play
    from sequenced
),

numbered as (
    select
        *,
        sum(starts_play) over (
            partition by user_id order by started_at, ended_at, play_id
            rows between unbounded preceding and current row
        ) as play_number
    from flagged
),

merged as (
    select
        (array_agg(play_id order by started_at, ended_at, play_id))[1] as play_id,
        user_id,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        sum(play_duration_ms) as ms_played_summed,
        max(media_duration_ms) as media_duration_ms,
        (array_agg(track_name order by started_at, ended_at, play_id))[1] as track_name,
        (array_agg(artist_name order by started_at, ended_at, play_id))[1] as artist_name,
        (array_agg(album_name order by started_at, ended_at, play_id))[1] as album_name,
        (array_agg(platform order by started_at, ended_at, play_id))[1] as platform,
        -- the newest load that touched the play, so a fragment arriving later is seen downstream
        max(load_id) as load_id
    from numbered
    group by user_id, play_number
),

artist_candidates as (
    select
        merged.play_id,
        hints.artist_name,
        {{ name_key('hints.artist_name') }} as artist_key,
        hints.album_key is not null and hints.album_key = {{ name_key('merged.album_name') }} as is_same_album
    from merged
    inner join artist_hints as hints
        on hints.user_id = merged.user_id and hints.track_key = {{ name_key('merged.track_name') }}
    where merged.artist_name is null
),

artist_by_level as (
    select play_id, 1 as level, min(artist_name) as artist_name
    from artist_candidates
    where is_same_album
    group by play_id
    having count(distinct artist_key) = 1
    union all
    select play_id, 2 as level, min(artist_name) as artist_name
    from artist_candidates
    group by play_id
    having count(distinct artist_key) = 1
),

recovered_artists as (
    select distinct on (play_id) play_id, artist_name
    from artist_by_level
    order by play_id, level
),

final as (
    select
        merged.play_id,
        merged.user_id,
        'apple_music'::text as service,
        'apple_music_play_activity'::text as source,
        merged.ended_at as stamped_at,
        'end'::text as stamp,
        1::integer as precision_ms,
        merged.started_at,
        merged.ended_at,
        least(merged.ms_played_summed, coalesce(merged.media_duration_ms, merged.ms_played_summed))::bigint
            as ms_played,
        merged.media_duration_ms::bigint as media_duration_ms,
        merged.track_name,
        coalesce(merged.artist_name, recovered_artists.artist_name) as artist_name,
        merged.album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        null::text as recording_mbid,
        -- Play Activity names no track id (Container ID is the album's or playlist's)
        null::text as service_track_id,
        merged.platform,
        merged.load_id
    from merged
    left join recovered_artists on recovered_artists.play_id = merged.play_id
)

select * from final
