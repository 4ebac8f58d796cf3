{#-
  A large insert into a small table (a listener's first ten years in a young home) costs less into the
  table without its indexes, each then made again in one pass: 200,000 plays into the dedupe's 20,000
  rows and seven indexes took 3.2 s as they were, 1.6 s so. These wrap the incremental strategies the
  project uses (append, delete+insert, and replace_user_days through delete+insert): when the new rows
  are at least `min_rows` and outnumber the table's rows that stay (those the delete of `unique_key`
  replaces do not: a listener's Last.fm history folded into their whole Spotify one replaces every
  user-day of the table), its indexes are set aside before the delete and insert and made again after
  them, with their own names and definitions, in the same transaction.
  Meanwhile readers of that table wait (DROP INDEX locks it), for the seconds the insert takes, and
  only for a batch larger than what stays. A unique index made again refuses a duplicate as the
  insert would have: the model fails and its transaction leaves the table as it was. Indexes behind
  a constraint stay. The table is analyzed with them, in the same transaction, for the models after
  it.
-#}

{% macro set_indexes_aside(target, source, min_rows=10000, unique_key=none) -%}
{%- set keys = [unique_key] if unique_key is string else (unique_key or []) %}
do $set_aside$
declare
    new_rows bigint;
    staying_rows bigint;
    kept record;
begin
    select count(*) into new_rows from {{ source }};
    if new_rows < {{ min_rows }} then
        return;
    end if;
    -- counted no further than the new rows: a large table is not read whole to learn it is large
    select count(*) into staying_rows from (
        select from {{ target }} as t
        {%- if keys %}
        -- a row the delete+insert replaces does not stay (its keys compared as dbt's delete does)
        where not exists (
            select from (select distinct {{ keys | join(', ') }} from {{ source }}) as s
            where {% for key in keys %}s.{{ key }} = t.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
        )
        {%- endif %}
        limit new_rows
    ) as t;
    if new_rows <= staying_rows then
        return;
    end if;
    -- made only here: the far more common small insert writes nothing to the catalog
    create temp table if not exists tt_indexes_set_aside (target regclass, definition text);
    -- the table itself, so that its statistics are renewed with the indexes (put_indexes_back)
    insert into tt_indexes_set_aside values ('{{ target }}'::regclass, null);
    for kept in
        select i.indexrelid::regclass as index, pg_get_indexdef(i.indexrelid) as definition
        from pg_index as i
        where i.indrelid = '{{ target }}'::regclass
            and not exists (select from pg_constraint as c where c.conindid = i.indexrelid)
    loop
        insert into tt_indexes_set_aside values ('{{ target }}'::regclass, kept.definition);
        execute format('drop index %s', kept.index);
    end loop;
end
$set_aside$;
{%- endmacro %}

{% macro put_indexes_back(target) -%}
do $put_back$
declare
    kept record;
begin
    if to_regclass('pg_temp.tt_indexes_set_aside') is null then
        return;
    end if;
    for kept in
        delete from tt_indexes_set_aside where target = '{{ target }}'::regclass returning definition
    loop
        if kept.definition is not null then
            execute kept.definition;
        end if;
    end loop;
    -- the new rows are most of the table now, and its statistics still describe the rows before them:
    -- the models after it in this build would plan with those (a million new scrobbles taken for an
    -- empty table cost the dedupe's select 39 s instead of 20 s)
    if found then
        analyze {{ target }};
    end if;
end
$put_back$
{%- endmacro %}

{#- dbt's own strategies (dispatched as before), with the indexes set aside around them. Written out
    for each: dbt's parser reads a dispatch's macro name only as a literal string. -#}
{% macro get_incremental_append_sql(arg_dict) %}
    {{ set_indexes_aside(arg_dict['target_relation'], arg_dict['temp_relation']) }}
    {{ adapter.dispatch('get_incremental_append_sql', 'dbt')(arg_dict) }};
    {{ put_indexes_back(arg_dict['target_relation']) }}
{% endmacro %}

{% macro get_incremental_delete_insert_sql(arg_dict) %}
    {{ set_indexes_aside(arg_dict['target_relation'], arg_dict['temp_relation'], unique_key=arg_dict['unique_key']) }}
    {{ adapter.dispatch('get_incremental_delete_insert_sql', 'dbt')(arg_dict) }};
    {{ put_indexes_back(arg_dict['target_relation']) }}
{% endmacro %}
