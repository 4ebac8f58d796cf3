{#-
  A model's table statistics (rows written) published as its transaction commits, before dbt reports
  the node done: PostgreSQL publishes a session's counts as it goes idle, at most once a second unless
  told to. The refresh reads them as dbt reports each model (tracktracker_assets/transform/assets.py):
  for the rows it records of the model, and to vacuum a table written in bulk while the nodes after
  it run.
-#}
{% macro publish_statistics() -%}
    select pg_stat_force_next_flush()
{%- endmacro %}
