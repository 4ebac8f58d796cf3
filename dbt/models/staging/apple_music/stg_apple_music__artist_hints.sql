{#-
  Who sang a title, as Apple's companion files say (they hold no plays): the library names the
  artist and album of each track; Daily Tracks and Recently Played write "Artist - Title", where both
  halves may contain " - ", so every split is a candidate and the play's own title picks the right one.
  stg_apple_music__play_activity fills the artist that 2022+ Play Activity lacks from these.
-#}

with

library as (
    select * from {{ source('bronze', 'apple_music_library_tracks') }}
),

daily_tracks as (
    select * from {{ source('bronze', 'apple_music_daily_tracks') }}
),

recently_played as (
    select * from {{ source('bronze', 'apple_music_recently_played') }}
),

library_hints as (
    select
        user_id,
        'library'::text as hint_source,
        {{ clean_text('title') }} as track_name,
        {{ clean_text('album') }} as album_name,
        {{ clean_text('artist') }} as artist_name
    from library
),

descriptions as (
    select user_id, 'daily_tracks'::text as hint_source, track_description from daily_tracks
    union all
    select user_id, 'recently_played'::text as hint_source, track_description from recently_played
),

description_parts as (
    select
        user_id,
        hint_source,
        string_to_array(track_description, ' - ') as parts
    from descriptions
    -- "null - Title": Apple did not know the artist, so the description names none
    where track_description is not null and track_description <> 'N/A'
        and lower(track_description) not like 'null - %'
),

description_hints as (
    select
        parts.user_id,
        parts.hint_source,
        {{ clean_text("array_to_string(parts.parts[split + 1:], ' - ')") }} as track_name,
        null::text as album_name,
        {{ clean_text("array_to_string(parts.parts[1:split], ' - ')") }} as artist_name
    from description_parts as parts
    cross join lateral generate_series(1, cardinality(parts.parts) - 1) as split
),

final as (
    select distinct
        user_id,
        hint_source,
        {{ name_key('track_name') }} as track_key,
        case when album_name is not null then {{ name_key('album_name') }} end as album_key,
        artist_name
    from (
        select * from library_hints
        union all
        select * from description_hints
    ) as hints
    where track_name is not null and artist_name is not null
)

select * from final
