{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id']}],
    )
}}

-- How plays start and end, and how often each way ends in a skip (sources that record reasons).
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
        coalesce(reason_start, 'not recorded') as reason_start,
        coalesce(reason_end, 'not recorded') as reason_end,
        count(*)::int as plays,
        count(*) filter (where is_skip)::int as skips,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(count(*) filter (where is_skip)::numeric / count(*), 4) as skip_rate,
        count(*) filter (where shuffle)::int as shuffled_plays,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by user_id, coalesce(reason_start, 'not recorded'), coalesce(reason_end, 'not recorded')
)

select * from final
