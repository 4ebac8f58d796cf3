{{
    config(
        materialized='incremental',
        unique_key='week_start',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['week_start', 'rank']}],
    )
}}

{#-
  Trends across everyone: per ISO week (by local date), the tracks played by at least
  `global_min_users` distinct listeners, so no ranking can single out one person's listening.
  Recomputes the weeks that received new facts.
-#}
with

{% if is_incremental() %}
changed_weeks as (
    select distinct date_trunc('week', local_date)::date as week_start
    from {{ ref('fct_plays') }}
    where _batch_load_id > {{ watermark() }}
),
{% endif %}

plays as (
    select f.*, date_trunc('week', f.local_date)::date as week_start
    from {{ ref('fct_plays') }} as f
    where f.track_key <> {{ unknown_key() }}
        and f.content_type = 'track'
    {% if is_incremental() %}
        and f.local_date >= (select min(week_start) from changed_weeks)
        and date_trunc('week', f.local_date)::date in (select week_start from changed_weeks)
    {% endif %}
),

totals as (
    select
        week_start,
        track_key,
        count(distinct user_id)::int as listeners,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played
    from plays
    group by week_start, track_key
    having count(distinct user_id) >= {{ var('global_min_users') }}
),

final as (
    select
        t.week_start,
        row_number() over (
            partition by t.week_start order by t.listeners desc, t.counted_plays desc, t.track_key
        )::int as rank,
        t.track_key,
        t.listeners,
        t.plays,
        t.counted_plays,
        t.minutes_played,
        {{ current_batch() }} as _batch_load_id
    from totals as t
)

select * from final
