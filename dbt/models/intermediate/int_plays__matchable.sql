{{ config(unlogged=true, tags=['whole_build_only'], post_hook=['{{ finish_match_rows() }}']) }}

{#-
  The rows a row of tiers 4+ can meet in int_plays__deduplicated, with their match fields
  (macros/match_rows.sql), stored for a whole build of it: every tier but the last present (a row of
  the last tier is never a candidate: a candidate is always of an earlier tier than its row). Empty
  when the dedupe builds incrementally (it computes them inline then), or when no row of tiers 4+
  exists (Spotify's sources only).
-#}

with

plays as not materialized (
    select * from {{ ref('int_plays__conformed') }}
),

last_tier as (
    {{ last_play_tier('plays') }}
)

select {{ match_fields() }}
from plays
where source_tier < (select source_tier from last_tier)
{%- if not dedupe_builds_whole() %}
    and false
{%- endif %}
