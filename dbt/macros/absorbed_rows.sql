{#-
  A refresh replaces the user-days silver recomputed (delete+insert on user_id, ended_date), which
  deletes only the days the new output has rows for. A row can also leave a day that is then left
  with nothing: when a later load brings the play a row belongs to (the night's last song scrobbled
  at 23:59, then Spotify's export of that play, ending after midnight), the row joins that event, on
  the next day, and its own day has no row left to be replaced. The row it was on its own stays, and
  the play counts twice. These remove such rows: a row the newly written events absorbed is no
  longer an event of its own, wherever it was.
-#}

{#- The rows that these events absorbed, as (user_id, play_id): an event's one row (linked_play_id),
    or its several (linked_rows; also every absorbed row of events written before linked_play_id was).
    With `loaded_by` (a table's watermark), only those loaded by then: a row a later load brought was
    never in that table (a million scrobbles folded into a Spotify history, each looked up: ~4 s). -#}
{% macro absorbed_rows(events, where='true', loaded_by=none) -%}
    select e.user_id, e.linked_play_id as play_id
    from {{ events }} as e
    where e.linked_play_id is not null and {{ where }}
    {%- if loaded_by is not none %} and coalesce(e.linked_load_id <= {{ loaded_by }}, true){% endif %}
    union all
    select e.user_id, r.row ->> 'play_id' as play_id
    from {{ events }} as e
    cross join lateral jsonb_array_elements(e.linked_rows) as r (row)
    where e.linked_rows is not null and {{ where }}
    {%- if loaded_by is not none %} and coalesce((r.row ->> 'load_id')::bigint <= {{ loaded_by }}, true){% endif %}
{%- endmacro %}

{#- int_plays__deduplicated's incremental strategy: the rows its new events absorbed are removed
    wherever they were, then delete+insert replaces the recomputed user-days. -#}
{% macro get_incremental_replace_user_days_sql(arg_dict) %}
    delete from {{ arg_dict['target_relation'] }} as t
    using ({{ absorbed_rows(arg_dict['temp_relation'], loaded_by=watermark()) }}) as x
    where t.play_id = x.play_id and t.user_id = x.user_id;
    {{ get_incremental_delete_insert_sql(arg_dict) }}
{% endmacro %}

{#- A pre-hook of the models keyed by silver's events (fct_plays, fct_play_sources): remove what
    belonged to an event that silver's new rows absorbed, before the new rows come in. -#}
{% macro delete_absorbed_events() %}
    {%- if is_incremental() %}
    delete from {{ this }} as t
    {%- set wm = watermark() %}
    using ({{ absorbed_rows(ref('int_plays__deduplicated'), 'e._batch_load_id > ' ~ wm, loaded_by=wm) }}) as x
    where t.play_id = x.play_id and t.user_id = x.user_id
    {%- endif %}
{% endmacro %}
