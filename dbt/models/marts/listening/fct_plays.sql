{{
    config(
        unique_key=['user_id', 'ended_date'],
        pre_hook="{{ delete_absorbed_events() }}",
        post_hook="{{ record_fact_days() }}",
        indexes=[
            {'columns': ['play_id', 'user_id'], 'unique': True},
            {'columns': ['user_id', 'ended_at']},
            {'columns': ['user_id', 'local_date']},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['local_date']},
            {'columns': ['track_key']},
            {'columns': ['artist_key']},
            {'columns': ['_batch_load_id']},
        ],
    )
}}
{# the pre-hook: an event silver's new rows absorbed may sit on a day no new row replaces
   (macros/absorbed_rows.sql); the post-hook: the days the new facts were written in, read by every
   per-user aggregate (macros/watermark.sql) #}
{# unique by an index dbt builds after writing the rows: a primary key constraint would be
    kept up to date row by row while they are written (five times slower for a million rows) #}

-- Grain: one deduplicated listening event (silver decides which rows of which services are one play:
-- int_plays__deduplicated). Replaces exactly the user-days silver recomputed.
with

plays as (
    select * from {{ ref('int_plays__deduplicated') }}
    {% if is_incremental() %}
    where _batch_load_id > {{ watermark() }}
    {% endif %}
),

final as (
    select
        play_id,
        user_id,
        track_key,
        artist_key,
        album_key,
        (extract(year from local_date) * 10000 + extract(month from local_date) * 100
            + extract(day from local_date))::int as date_key,
        session_id,
        ended_at,
        started_at,
        ended_at_local,
        local_date,
        local_hour,
        local_weekday,
        ended_date,
        ms_played,
        round(ms_played / 60000.0, 3) as minutes_played,
        is_counted_play,
        is_skip,
        is_ms_played_estimated,
        content_type,
        source,
        sources,
        service,
        services,
        platform,
        conn_country,
        reason_start,
        reason_end,
        shuffle,
        offline,
        incognito_mode,
        _batch_load_id
    from plays
)

select * from final
