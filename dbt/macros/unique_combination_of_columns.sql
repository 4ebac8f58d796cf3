{#-
  Rows unique by a combination of columns, with dbt_utils' name and arguments (dbt_utils is not a
  dependency: dbt deps would need the package hub). Per-user keys name user_id first so that, on a
  warehouse distributed by user_id (deploy/citus/), the check groups within each shard.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
