{#-
  play_id: the identity of a listening event, from the bronze columns that identify it
  (`event_identity` in dbt_project.yml, which the loader and the reconciliation check read too).
  md5 of the row's text form: a null and an empty string differ, and no value can run into the next.
  The end time goes in as epoch seconds, so the session's time zone cannot change an id.
-#}
{% macro event_identity_columns(table) -%}
    {%- set columns = var('event_identity')[table] -%}
    {{- return(columns) -}}
{%- endmacro %}

{% macro play_id(table, source_name, relation=none) -%}
    {%- set columns = event_identity_columns(table) -%}
    {%- set prefix = (relation ~ '.') if relation else '' -%}
    md5(row(
        {{ prefix }}user_id, '{{ source_name }}', extract(epoch from {{ prefix }}{{ columns[0] }})
        {%- for column in columns[1:] %}, {{ prefix }}{{ column }}{% endfor %}
    )::text)
{%- endmacro %}
