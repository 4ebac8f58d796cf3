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
-- the plays of the years ranked again: those of every month of those years (a lookup of a play's own
-- columns, once a play, not once for each entity type; no year computed for every play)
plays_of_ranked_years as (
    select p.*
    from plays as p
    where (p.user_id, p.month_start) in (
        select distinct c.user_id, (date_trunc('year', c.month_start) + m.months * interval '1 month')::date
        from changed_months as c
        cross join generate_series(0, 11) as m (months)
    )
),
{% endif %}

{%- set entities = [('track', 'track_key'), ('artist', 'artist_key'), ('album', 'album_key')] %}
{%- set top = {'month': 25, 'year': 50, 'all': 100} %}

{#- Each entity type's totals are grouped, and each of its three kinds of period ranked, apart: nine
    smaller sorts, none comparing the type or kind of period (every row of a sort shares them), each
    reading only its own rows (one table of every type's and period's totals, stored once and read
    whole by each of the nine rankings, was a quarter of this model's time). Totals are bigint, not
    sum()'s numeric, which a sort compares several times slower; a period's sort compares its start
    (a date) before the listener's id (text that every row of one listener shares). -#}
{%- for entity_type, key in entities %}

-- each listener's plays of a {{ entity_type }} per local month, in the years ranked again (every year on
-- a full build): a year's totals add up from its months, so each of its plays is grouped once
{{ entity_type }}_months as (
    select
        user_id,
        {{ key }} as entity_key,
        month_start,
        count(*) as plays,
        count(*) filter (where is_counted_play) as counted_plays,
        sum(ms_played)::bigint as ms_played
    from {{ 'plays_of_ranked_years' if is_incremental() else 'plays' }}
    where {{ key }} <> {{ unknown_key() }}
    group by user_id, {{ key }}, month_start
),
{%- endfor %}

ranked as (
    {%- for entity_type, key in entities %}
    {%- set outer = loop %}
    {%- for period in ['month', 'year', 'all'] %}
    select *
    from (
        select
            user_id,
            '{{ entity_type }}'::text as entity_type,
            '{{ period }}'::text as period,
            period_start,
            row_number() over (
                partition by {% if period != 'all' %}period_start, {% endif %}user_id
                order by counted_plays desc, ms_played desc, entity_key
            )::int as rank,
            entity_key,
            plays::int as plays,
            counted_plays::int as counted_plays,
            ms_played
        from (
            {%- if period == 'month' %}
            select user_id, month_start as period_start, entity_key, plays, counted_plays, ms_played
            from {{ entity_type }}_months
            {%- if is_incremental() %}
            where (user_id, month_start) in (select user_id, month_start from changed_months)
            {%- endif %}
            {%- elif period == 'year' %}
            select user_id, date_trunc('year', month_start)::date as period_start, entity_key,
                sum(plays)::bigint as plays, sum(counted_plays)::bigint as counted_plays,
                sum(ms_played)::bigint as ms_played
            from {{ entity_type }}_months
            group by user_id, date_trunc('year', month_start)::date, entity_key
            {%- else %}
            -- all time straight from the plays: a few thousand entities a listener, where their
            -- months of every year would be hundreds of thousands of rows
            select user_id, null::date as period_start, {{ key }} as entity_key, count(*) as plays,
                count(*) filter (where is_counted_play) as counted_plays, sum(ms_played)::bigint as ms_played
            from plays
            where {{ key }} <> {{ unknown_key() }}
            group by user_id, {{ key }}
            {%- endif %}
        ) as totals
    ) as r
    where rank <= {{ top[period] }}
    {% if not (outer.last and loop.last) %}union all{% endif %}
    {%- endfor %}
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
)

select * from final
