{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id', 'streak_end']}],
    )
}}

{#-
  Streaks: each run of consecutive local days on which a listener had at least one counted play
  (gaps and islands: a day minus its position among the listener's listening days is constant within
  a run). A streak depends on the listener's whole history, so a changed listener is recomputed whole;
  the cost follows their listening days, not their plays.
-#}

with

listening_days as (
    select user_id, local_date, counted_plays, minutes_played
    from {{ ref('agg_daily_listening') }}
    where counted_plays > 0
    {% if is_incremental() %}
        and user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

islands as (
    select
        *,
        local_date - (row_number() over (partition by user_id order by local_date))::int as island
    from listening_days
),

final as (
    select
        user_id,
        min(local_date) as streak_start,
        max(local_date) as streak_end,
        count(*)::int as days,
        sum(counted_plays)::int as counted_plays,
        round(sum(minutes_played), 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from islands
    group by user_id, island
)

select * from final
