{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[
            {'columns': ['play_id', 'user_id'], 'unique': True},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['load_id']},
        ],
    )
}}

with

source as (
    select * from {{ source('bronze', 'spotify_account_history') }}
    {% if is_incremental() %}
    where load_id > {{ watermark('load_id') }}
    {% endif %}
),

typed as (
    select
        {{ play_id('spotify_account_history', 'spotify_account') }} as play_id,
        user_id,
        end_time as ended_at,
        ms_played,
        case
            when podcast_name is not null or episode_name is not null then 'episode'
            when audiobook_name is not null or chapter_name is not null then 'audiobook'
            when track_name is not null or artist_name is not null then 'track'
            else 'unknown'
        end as content_type,
        {{ clean_text('coalesce(track_name, episode_name, chapter_name)') }} as track_name,
        {{ clean_text('coalesce(artist_name, podcast_name, author_name, audiobook_name)') }} as artist_name,
        {{ clean_text('coalesce(podcast_name, audiobook_name)') }} as album_name,
        load_id
    from source
),

-- the same event twice (a file holding a record twice, or two loads): keep the earliest load, and
-- among rows of one load that differ in nothing that identifies the event, a fixed one: the first by
-- every column of typed in turn (plain columns: a sort compares them only when rows tie)
deduplicated as (
    select distinct on (play_id) *
    from typed
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as existing where existing.play_id = typed.play_id)
    {% endif %}
    order by play_id, load_id, user_id, ended_at, ms_played, content_type, track_name, artist_name, album_name
),

final as (
    select
        play_id,
        user_id,
        'spotify_account'::text as source,
        ended_at,
        (ended_at at time zone 'UTC')::date as ended_date,
        ms_played,
        false as is_ms_played_estimated,
        content_type,
        null::text as content_uri,
        track_name,
        artist_name,
        album_name,
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
    from deduplicated
)

select * from final
