{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['user_id', 'first_month']}],
    )
}}

-- Discovery: the first play of each artist (or show) by each listener, with how much followed.
with

plays as (
    select * from {{ ref('fct_plays') }}
    where artist_key <> {{ unknown_key() }}
    {% if is_incremental() %}
        and user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

per_artist as (
    select
        user_id,
        artist_key,
        min(ended_at) as first_played_at,
        min(local_date) as first_local_date,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played
    from plays
    group by user_id, artist_key
),

final as (
    select
        p.user_id,
        p.artist_key,
        a.artist_name,
        a.artist_type,
        p.first_played_at,
        p.first_local_date,
        date_trunc('month', p.first_local_date)::date as first_month,
        p.plays,
        p.counted_plays,
        p.minutes_played,
        {{ current_batch() }} as _batch_load_id
    from per_artist as p
    join {{ ref('dim_artist') }} as a on a.artist_key = p.artist_key
)

select * from final
