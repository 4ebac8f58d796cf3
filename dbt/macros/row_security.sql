{#-
  Row-level security of gold, enforced by PostgreSQL for every statement, whatever the SQL
  (tracktracker_assets/warehouse/access.py describes the roles). Every gold model declares who may see
  its rows in `meta.access` (folder default in dbt_project.yml):

  - per_user: a listener sees the rows whose user_id is theirs;
  - played: a dimension; a listener sees the entities they played themselves (`meta.played_key` names
    the key it shares with fct_plays), so a dimension reveals nothing of other listeners' listening;
  - shared: everyone sees every row (the calendar; global trends, which hold only what at least k
    listeners played). A shared view runs with its owner's rights: it shows names from the dimensions
    only for what it selects.
  - friends: a view of what two listeners who both consented may see of each other (the comparison,
    never the plays). It runs with its owner's rights, and its own SQL keeps only rows of the asking
    listener with a friend whose friendship is accepted now (tt_security.friendships); a table could
    not do that, as its rows would outlive a withdrawal until the next build.

  A played dimension is shared: some of its columns say what other listeners did (when the key was
  last played by anyone, the newest load that touched it, which track of an artist someone played
  last). It names them in `meta.hidden_from_listeners`; listeners are granted SELECT on its other
  columns only, so PostgreSQL refuses those to them whatever the SQL (`select *` included).

  The admin's reader sees every row. Listeners may read a relation only after its policy is in place:
  this post-hook enables row security, creates the policy and only then grants SELECT, in the model's
  own transaction. Per-user and played views run with the caller's rights (security_invoker), so the
  policies of the tables they read apply. Catalog state is checked first: an unchanged relation costs
  no DDL, and no lock that would wait on listeners' queries.
-#}
{% macro listener_user_id() -%}
    (select tt_security.listener_user_id())
{%- endmacro %}

{% macro listener_policy(access, played_key) -%}
    {%- if access == 'per_user' -%}
        user_id = {{ listener_user_id() }}
    {%- elif access == 'played' -%}
        {{ played_key }} in (
            select f.{{ played_key }} from gold.fct_plays as f
            where f.user_id = {{ listener_user_id() }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro row_security() %}
    {%- set meta = model.config.get('meta', {}) -%}
    {%- set access = meta.get('access') -%}
    {%- if access not in ('per_user', 'played', 'shared', 'friends') -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": meta.access must be per_user, played, shared or friends (who may see its rows), not "
            ~ (access | string)) }}
    {%- endif -%}
    {%- if access == 'friends' and model.config.materialized != 'view' -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": a friends model is a view (consent is checked when read)") }}
    {%- endif -%}
    {%- if access == 'played' and not meta.get('played_key') -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": a played dimension names its meta.played_key") }}
    {%- endif -%}
    {%- set hidden = meta.get('hidden_from_listeners', []) -%}
    {%- if hidden and (access != 'played' or model.config.materialized == 'view') -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": only a played dimension's table hides columns from listeners") }}
    {%- endif -%}
    {%- set hidden_array -%}array[{% for c in hidden %}'{{ c }}'{{ ', ' if not loop.last }}{% endfor %}]::name[]{%- endset -%}
    {%- set clause = listener_policy(access, meta.get('played_key')) | trim -%}
    {%- set policy = 'tt_listeners_' ~ local_md5(clause)[:10] -%}
    {%- set is_view = model.config.materialized == 'view' -%}
    {%- set invoker = 'false' if access in ('shared', 'friends') else 'true' -%}
do $row_security$
declare
    rel regclass := '{{ this }}'::regclass;
    col name;
begin
    {%- if is_view %}
    if {{ invoker }} is distinct from coalesce(
        (select option_value::boolean from pg_options_to_table((select reloptions from pg_class where oid = rel))
         where option_name = 'security_invoker'), false) then
        execute format('alter view %s set (security_invoker = {{ invoker }})', rel);
    end if;
    {%- else %}
    {%- if access == 'per_user' %}
    perform 1 from pg_attribute where attrelid = rel and attname = 'user_id' and not attisdropped;
    if not found then
        raise exception '%: a per_user relation needs a user_id column', rel;
    end if;
    {%- endif %}
    if not (select relrowsecurity from pg_class where oid = rel) then
        execute format('alter table %s enable row level security', rel);
    end if;
    if not exists (select from pg_policy where polrelid = rel and polname = '{{ policy }}') then
        execute format('create policy {{ policy }} on %s for select to tt_listeners using ({{ clause | replace("'", "''") }})', rel);
    end if;
    if not exists (select from pg_policy where polrelid = rel and polname = 'tt_reader_all') then
        execute format('create policy tt_reader_all on %s for select to superset_reader using (true)', rel);
    end if;
    -- a policy of ours that the model no longer declares (its access changed) goes
    perform 1 from pg_policy where polrelid = rel and polname like 'tt\_%' and polname not in ('{{ policy }}', 'tt_reader_all');
    if found then
        execute (
            select string_agg(format('drop policy %I on %s', polname, rel), '; ')
            from pg_policy where polrelid = rel and polname like 'tt\_%' and polname not in ('{{ policy }}', 'tt_reader_all')
        );
    end if;
    {%- endif %}
    {%- if hidden %}
    perform 1 from unnest({{ hidden_array }}) as h (col)
    where not exists (select from pg_attribute where attrelid = rel and attname = h.col and attnum > 0 and not attisdropped);
    if found then
        raise exception '%: meta.hidden_from_listeners names a column it does not have', rel;
    end if;
    -- every column but the hidden ones (a column added by a later build is granted when it appears)
    if has_table_privilege('tt_listeners', rel, 'select') then
        execute format('revoke select on %s from tt_listeners', rel);
    end if;
    for col in
        select attname from pg_attribute
        where attrelid = rel and attnum > 0 and not attisdropped
            and (attname = any({{ hidden_array }})) = has_column_privilege('tt_listeners', rel, attnum, 'select')
    loop
        if col = any({{ hidden_array }}) then
            execute format('revoke select (%I) on %s from tt_listeners', col, rel);
        else
            execute format('grant select (%I) on %s to tt_listeners', col, rel);
        end if;
    end loop;
    {%- else %}
    if not has_table_privilege('tt_listeners', rel, 'select') then
        execute format('grant select on %s to tt_listeners', rel);
    end if;
    {%- endif %}
    if not has_table_privilege('superset_reader', rel, 'select') then
        execute format('grant select on %s to superset_reader', rel);
    end if;
end
$row_security$
{% endmacro %}
