{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id', 'first_month']}, {'columns': ['artist_key']}],
    )
}}

-- The first play of each artist (or show) by each listener, with how much followed (keys, figures).
with

plays as (
    select * from {{ ref('fct_plays') }}
    where artist_key <> {{ unknown_key() }}
    {% if is_incremental() %}
        and user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

final as (
    select
        user_id,
        artist_key,
        min(ended_at) as first_played_at,
        min(local_date) as first_local_date,
        date_trunc('month', min(local_date))::date as first_month,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by user_id, artist_key
)

select * from final
