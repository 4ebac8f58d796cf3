{#-
  Apple Music - Track Play History as plays (the conformed play contract).

  Apple often writes a play twice, Is User Initiated false and true at the identical millisecond,
  sometimes with the name in another case: one play per person, time and Track Name (case aside) (the row that says true is kept, so the play_id is stable
  whichever copies a file has). Track Name is "Artist - Title", split at the first " - " (titles
  carry " - Remastered" and the like far more often than artist names carry " - "); "null - " or
  "N/A" is Apple's unknown. Last Played Date is taken as the END of playback (iTunes updates it when
  a song finishes), to the millisecond; how long it played is not in the file.
-#}

with

source as (
    select * from {{ source('bronze', 'apple_music_track_play_history') }}
),

typed as (
    select
        {{ play_id('apple_music_track_play_history', 'apple_music_track_play_history') }} as play_id,
        user_id,
        played_at,
        is_user_initiated,
        case when track_name <> 'N/A' then {{ clean_text('track_name') }} end as track_description,
        load_id
    from source
),

-- the same play as user-initiated and not, in another case ("NORTHERN LIGHTS" beside "Northern
-- Lights" at the same millisecond), or loaded twice: one row, the earliest load's
deduplicated as (
    select distinct on (user_id, played_at, {{ name_key('track_description') }}) *
    from typed
    order by
        user_id, played_at, {{ name_key('track_description') }}, load_id, is_user_initiated desc nulls last,
        track_description, play_id
),

split as (
    select
        *,
        strpos(track_description, ' - ') as separator_at
    from deduplicated
),

final as (
    select
        play_id,
        user_id,
        'apple_music'::text as service,
        'apple_music_track_play_history'::text as source,
        played_at as stamped_at,
        'end'::text as stamp,
        1::integer as precision_ms,
        null::timestamptz as started_at,
        played_at as ended_at,
        null::bigint as ms_played,
        null::bigint as media_duration_ms,
        case
            when separator_at > 0 then {{ clean_text('substr(track_description, separator_at + 3)') }}
            else track_description
        end as track_name,
        case
            when separator_at > 0 and lower(left(track_description, separator_at - 1)) <> 'null'
                then {{ clean_text('left(track_description, separator_at - 1)') }}
        end as artist_name,
        null::text as album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        null::text as recording_mbid,
        null::text as service_track_id,
        'unknown'::text as platform,
        load_id
    from split
)

select * from final
