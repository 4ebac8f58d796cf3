{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id', 'local_weekday', 'local_hour'], 'unique': True}],
    )
}}

-- The listener's week: plays by local weekday (1 = Monday) and local hour.
with

plays as (
    select * from {{ ref('fct_plays') }}
    {% if is_incremental() %}
    where user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

final as (
    select
        user_id,
        local_weekday,
        local_hour,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by user_id, local_weekday, local_hour
)

select * from final
