{{
    config(
        unique_key='week_start',
        pre_hook="{{ delete_changed_weeks(ref('fct_plays')) }}",
        indexes=[{'columns': ['week_start', 'entity_type', 'rank']}, {'columns': ['entity_key']}],
    )
}}

{#-
  Trends across everyone: per ISO week (by local date), the tracks and artists played by at least
  `global_min_users` distinct listeners, so no ranking can single out one person's listening.
  Recomputes the weeks that received new facts (changed_weeks), deleted first so that a week that no
  longer ranks anything loses its rows; a full build recomputes all.
-#}
{% set weeks = changed_weeks(ref('fct_plays')) %}

with

plays as (
    select
        f.user_id,
        f.is_counted_play,
        f.ms_played,
        f.track_key,
        f.artist_key,
        date_trunc('week', f.local_date)::date as week_start
    from {{ ref('fct_plays') }} as f
    where f.content_type = 'track'
    {% if weeks is not none %}
        and ({{ week_ranges('f.local_date', weeks) }})
    {% endif %}
),

-- only weeks with enough listeners can rank anything (an entity's listeners are among its week's):
-- on an install of one or two listeners nothing past this point runs over their plays
weeks_shared as (
    select week_start
    from (select distinct week_start, user_id from plays) as listening
    group by week_start
    having count(*) >= {{ var('global_min_users') }}
),

entities as (
    select week_start, user_id, is_counted_play, ms_played, 'track'::text as entity_type, track_key as entity_key
    from plays where track_key <> {{ unknown_key() }} and week_start in (select week_start from weeks_shared)
    union all
    select week_start, user_id, is_counted_play, ms_played, 'artist', artist_key
    from plays where artist_key <> {{ unknown_key() }} and week_start in (select week_start from weeks_shared)
),

-- each listener's figures per week and entity first: the listeners of an entity are then counted as
-- rows (a hash aggregate) instead of by a count(distinct) that sorts every play
per_listener as (
    select
        week_start,
        entity_type,
        entity_key,
        user_id,
        count(*) as plays,
        count(*) filter (where is_counted_play) as counted_plays,
        sum(ms_played) as ms_played
    from entities
    group by week_start, entity_type, entity_key, user_id
),

totals as (
    select
        week_start,
        entity_type,
        entity_key,
        count(*)::int as listeners,
        sum(plays)::int as plays,
        sum(counted_plays)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played
    from per_listener
    group by week_start, entity_type, entity_key
    having count(*) >= {{ var('global_min_users') }}
),

final as (
    select
        week_start,
        entity_type,
        row_number() over (
            partition by week_start, entity_type order by listeners desc, counted_plays desc, entity_key
        )::int as rank,
        entity_key,
        listeners,
        plays,
        counted_plays,
        minutes_played,
        {{ current_batch() }} as _batch_load_id
    from totals
)

select * from final
