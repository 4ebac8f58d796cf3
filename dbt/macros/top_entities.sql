{#-
  Top music entities per user for all time, each year and each month (local time), ranked by counted
  plays, then time listened, then key. Keys and figures only: names come from the dimensions in the
  agg_top_* views, so another listener's plays renaming a track never leave this table stale.
  Podcasts and audiobooks are left to their own views. Recomputed per changed user: cost follows that user's history only.
-#}
{% macro top_entities(key, limits={'all': 100, 'year': 50, 'month': 25}) %}

with

plays as (
    select f.*
    from {{ ref('fct_plays') }} as f
    where f.{{ key }} <> {{ unknown_key() }}
        and f.content_type = 'track'
    {% if is_incremental() %}
        and f.user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

periods as (
    select *, 'all'::text as period, null::date as period_start from plays
    union all
    select *, 'year', date_trunc('year', local_date)::date from plays
    union all
    select *, 'month', date_trunc('month', local_date)::date from plays
),

totals as (
    select
        user_id,
        period,
        period_start,
        {{ key }},
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        sum(ms_played)::bigint as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from periods
    group by user_id, period, period_start, {{ key }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, period, period_start
            order by counted_plays desc, ms_played desc, {{ key }}
        )::int as rank
    from totals
),

final as (
    select
        user_id,
        period,
        period_start,
        rank,
        {{ key }},
        plays,
        counted_plays,
        ms_played,
        minutes_played,
        _batch_load_id
    from ranked
    where rank <= case period
        {% for p, n in limits.items() %}when '{{ p }}' then {{ n }} {% endfor %}
    end
)

select * from final

{% endmacro %}
