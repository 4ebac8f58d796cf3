{#-
  Incremental models remember how far they got as the highest bronze load id they have seen
  (`load_id` in staging, `_batch_load_id` downstream). Bronze writers hold one global lock per
  transaction, so load ids become visible in order and a watermark never skips a load.
-#}
{% macro watermark(column='_batch_load_id') -%}
    (select coalesce(max({{ column }}), 0) from {{ this }})
{%- endmacro %}

{#- The batch id written on every row a run produces: the highest load id among its inputs. -#}
{% macro batch_load_id(relation, column='load_id') -%}
    (select coalesce(max({{ column }}), 0) from {{ relation }})
{%- endmacro %}

{#- The batch id that per-user aggregates stamp on what they recompute: the newest fact batch. -#}
{% macro current_batch() -%}
    (select coalesce(max(_batch_load_id), 0) from {{ ref('fct_plays') }})
{%- endmacro %}
