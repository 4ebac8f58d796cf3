{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id', 'entity_type', 'period', 'period_start', 'rank']}, {'columns': ['entity_key']}],
    )
}}

{#-
  Each listener's top music tracks, artists and albums for all time (100), each year (50) and each
  month (25) of local time, ranked by counted plays, then time listened, then key. Keys and figures
  only: the agg_top_* views add names from the dimensions, so another listener's plays renaming a
  track never leave this table stale. Recomputed per changed user: the cost follows their history.
-#}

with

plays as (
    select f.*
    from {{ ref('fct_plays') }} as f
    where f.content_type = 'track'
    {% if is_incremental() %}
        and f.user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

entities as (
    select user_id, local_date, is_counted_play, ms_played, 'track'::text as entity_type, track_key as entity_key
    from plays where track_key <> {{ unknown_key() }}
    union all
    select user_id, local_date, is_counted_play, ms_played, 'artist', artist_key
    from plays where artist_key <> {{ unknown_key() }}
    union all
    select user_id, local_date, is_counted_play, ms_played, 'album', album_key
    from plays where album_key <> {{ unknown_key() }}
),

periods as (
    select *, 'all'::text as period, null::date as period_start from entities
    union all
    select *, 'year', date_trunc('year', local_date)::date from entities
    union all
    select *, 'month', date_trunc('month', local_date)::date from entities
),

totals as (
    select
        user_id,
        entity_type,
        period,
        period_start,
        entity_key,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        sum(ms_played)::bigint as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played
    from periods
    group by user_id, entity_type, period, period_start, entity_key
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, entity_type, period, period_start
            order by counted_plays desc, ms_played desc, entity_key
        )::int as rank
    from totals
),

final as (
    select
        user_id,
        entity_type,
        period,
        period_start,
        rank,
        entity_key,
        plays,
        counted_plays,
        ms_played,
        minutes_played,
        {{ current_batch() }} as _batch_load_id
    from ranked
    where rank <= case period when 'all' then 100 when 'year' then 50 else 25 end
)

select * from final
