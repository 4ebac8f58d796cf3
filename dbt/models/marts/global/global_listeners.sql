{{ config(materialized='view', meta={'access': 'shared'}) }}

{#-
  Whether Global trends can show anything yet: how many listeners listened in the busiest week, against
  the minimum (global_min_users). One row, counts only: no listener, track or artist is named. A view,
  so it costs nothing at refresh time (Global trends reads it when opened).
-#}

with

weekly as (
    select
        date_trunc('week', local_date)::date as week_start,
        count(distinct user_id)::int as listeners
    from {{ ref('fct_plays') }}
    where content_type = 'track'
    group by 1
),

final as (
    select
        coalesce(max(listeners), 0)::int as listeners_in_busiest_week,
        (count(*) filter (where listeners >= {{ var('global_min_users') }}))::int as shared_weeks,
        {{ var('global_min_users') }}::int as min_listeners
    from weekly
)

select * from final
