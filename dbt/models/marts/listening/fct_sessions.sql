{{
    config(
        unique_key='user_id',
        indexes=[
            {'columns': ['session_id', 'user_id'], 'unique': True},
            {'columns': ['user_id', 'started_at']},
        ],
    )
}}
{# unique by an index dbt builds after writing the rows: a primary key constraint would be
    kept up to date row by row while they are written (five times slower for a million rows) #}

-- Grain: one listening session (plays separated by less than session_gap_minutes of silence).
with

plays as (
    select * from {{ ref('fct_plays') }}
    {% if is_incremental() %}
    where user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

final as (
    select
        session_id,
        user_id,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        min(ended_at_local - (ms_played * interval '1 millisecond')) as started_at_local,
        (min(ended_at_local - (ms_played * interval '1 millisecond')))::date as local_date,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        count(*) filter (where is_skip)::int as skips,
        count(distinct track_key)::int as distinct_tracks,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        round((extract(epoch from max(ended_at) - min(started_at)) / 60.0)::numeric, 2) as duration_minutes,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by session_id, user_id
)

select * from final
