{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id']}],
    )
}}

-- Where people listen: plays and minutes by normalised platform, with offline and shuffle shares.
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
        platform,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        count(*) filter (where offline)::int as offline_plays,
        count(*) filter (where shuffle)::int as shuffled_plays,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by user_id, platform
)

select * from final
