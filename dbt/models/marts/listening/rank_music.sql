{{
    config(
        incremental_strategy='append',
        pre_hook="{{ delete_changed_rankings(ref('fct_plays')) }}",
        indexes=[{'columns': ['user_id', 'entity_type', 'period', 'period_start', 'rank']}, {'columns': ['entity_key']}],
    )
}}

{#-
  Each listener's top music tracks, artists and albums for all time (100), each year (50) and each
  month (25) of local time, ranked by counted plays, then time listened, then key. Keys and figures
  only: the agg_top_* views add names from the dimensions, so another listener's plays renaming a
  track never leave this table stale.

  A refresh ranks again only what the new facts reach: the local months of their days and the days
  they may have left (changed_local_days), the years of those months, and all time for their
  listeners; the pre-hook deletes those rankings first (a month left without a play loses its
  rows). So a listener's daily import ranks one month, one year and all time, not every month and
  year of their history again (1,000,000 plays: 12 s before).
-#}

with

{% if is_incremental() %}
changed_months as (
    {{ changed_local_months(ref('fct_plays')) }}
),
{% endif %}

plays as (
    select
        f.user_id,
        date_trunc('month', f.local_date)::date as month_start,
        f.is_counted_play,
        f.ms_played,
        f.track_key,
        f.artist_key,
        f.album_key
    from {{ ref('fct_plays') }} as f
    where f.content_type = 'track'
    {% if is_incremental() %}
        and f.user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

{% if is_incremental() %}
-- the plays of the years ranked again (tested once a play, not once for each entity type)
plays_of_ranked_years as (
    select p.*
    from plays as p
    where (p.user_id, date_trunc('year', p.month_start)::date) in (
        select user_id, date_trunc('year', month_start)::date from changed_months
    )
),
{% endif %}

-- each listener's plays of an entity per local month, in the years ranked again (every year on a full
-- build): a year's totals add up from its months, so each of its plays is grouped once
monthly as (
    {%- for entity_type, key in [('track', 'track_key'), ('artist', 'artist_key'), ('album', 'album_key')] %}
    select
        user_id,
        '{{ entity_type }}'::text as entity_type,
        {{ key }} as entity_key,
        month_start,
        count(*) as plays,
        count(*) filter (where is_counted_play) as counted_plays,
        sum(ms_played) as ms_played
    from {{ 'plays_of_ranked_years' if is_incremental() else 'plays' }}
    where {{ key }} <> {{ unknown_key() }}
    group by user_id, {{ key }}, month_start
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- all time straight from the plays: a few thousand entities a listener, where their months of every
-- year would be hundreds of thousands of rows
periods as (
    select user_id, entity_type, 'month'::text as period, month_start as period_start, entity_key,
        plays, counted_plays, ms_played
    from monthly
    {% if is_incremental() %}
    where (user_id, month_start) in (select user_id, month_start from changed_months)
    {% endif %}
    union all
    select user_id, entity_type, 'year', date_trunc('year', month_start)::date, entity_key,
        sum(plays), sum(counted_plays), sum(ms_played)
    from monthly
    group by user_id, entity_type, date_trunc('year', month_start)::date, entity_key
    {%- for entity_type, key in [('track', 'track_key'), ('artist', 'artist_key'), ('album', 'album_key')] %}
    union all
    select user_id, '{{ entity_type }}', 'all', null::date, {{ key }},
        count(*), count(*) filter (where is_counted_play), sum(ms_played)
    from plays
    where {{ key }} <> {{ unknown_key() }}
    group by user_id, {{ key }}
    {%- endfor %}
),

totals as (
    select
        user_id,
        entity_type,
        period,
        period_start,
        entity_key,
        plays::int as plays,
        counted_plays::int as counted_plays,
        ms_played::bigint as ms_played
    from periods
),

-- each entity type's periods of each kind ranked apart: nine smaller sorts, and none compares the
-- type or kind of period (every row of a sort shares them)
ranked as (
    {%- for entity_type in ['track', 'artist', 'album'] %}
    {%- for period in ['month', 'year', 'all'] %}
    select
        *,
        row_number() over (
            partition by user_id{% if period != 'all' %}, period_start{% endif %}
            order by counted_plays desc, ms_played desc, entity_key
        )::int as rank
    from totals
    where entity_type = '{{ entity_type }}' and period = '{{ period }}'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
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
        round(ms_played / 60000.0, 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from ranked
    where rank <= case period when 'all' then 100 when 'year' then 50 else 25 end
)

select * from final
