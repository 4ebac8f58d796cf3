{{ config(unlogged=true, tags=['whole_build_only'], post_hook=['{{ finish_match_rows() }}']) }}

{#-
  The rows of tiers 4+ that int_plays__deduplicated looks for candidates of: those carrying an
  identity, with their match fields and what each leaves its event if absorbed (row_<column>:
  macros/match_rows.sql), stored for a whole build of it. Empty when the dedupe builds incrementally
  (it computes them inline then).
-#}

select
    {{ match_fields() }},
    {%- for column in match_lineage_columns() %}
    {{ column }} as row_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref('int_plays__conformed') }}
where source_tier > 3
    and ({% for column in match_identity_columns().values() %}{{ column }} is not null{{ ' or ' if not loop.last }}{% endfor %})
{%- if not dedupe_builds_whole() %}
    and false
{%- endif %}
