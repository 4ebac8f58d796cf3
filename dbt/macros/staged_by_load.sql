{#-
  The play staging models of the services whose records never change once loaded (Last.fm,
  ListenBrainz, Tidal: incremental tables by their folders' config in dbt_project.yml) are kept by
  load, like Spotify's: an incremental run reads only the loads newer than the table's
  (`only_new_loads`, in the model's source CTE) and drops a later load's copy of a play the table
  holds (`not_staged_yet`, in its deduplicating CTE), so the earliest load keeps it, as the full
  build's `distinct on` does. Schema tests and int_plays__conformed then read stored rows instead of
  re-running the `distinct on` over the whole bronze table each.
-#}
{% macro only_new_loads() -%}
    {%- if is_incremental() %}where load_id > {{ watermark('load_id') }}{% endif -%}
{%- endmacro %}

{% macro not_staged_yet(alias) -%}
    {%- if is_incremental() -%}
    where not exists (select 1 from {{ this }} as existing where existing.play_id = {{ alias }}.play_id)
    {%- endif -%}
{%- endmacro %}
