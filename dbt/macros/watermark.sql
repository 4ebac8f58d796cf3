{#-
  Incremental models remember how far they got as the highest bronze load id they have seen
  (`load_id` in staging, `_batch_load_id` downstream). Bronze writers hold one global lock per
  transaction, so load ids become visible in order and a watermark never skips a load.

  The watermark is read when the model runs and written into its SQL as a literal: hidden in a
  subquery, PostgreSQL cannot estimate it and scans whole tables instead of using the indexes on
  load_id / _batch_load_id, which made a 50-play refresh cost as much as the history.
-#}
{% macro watermark(column='_batch_load_id') -%}
    {%- if execute and is_incremental() -%}
        {%- set highest = 'select coalesce(max(' ~ column ~ '), 0) from ' ~ this -%}
        {%- if column == '_batch_load_id' -%}
            {#- or the batch it last took in, when that left it no row (remember_batch) -#}
            {%- set highest = 'select greatest((' ~ highest ~ '), coalesce((select value::bigint from bronze.dbt_state'
                ~ " where key = '" ~ batch_state_key() ~ "'), 0))" -%}
        {%- endif -%}
        {%- set result = run_query(highest) -%}
        {{- result.columns[0].values()[0] | int -}}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{#- Whether the rows of `relation` newer than `since` (the model's watermark, by load_id) are at least
    `count`: read when the model runs, counted no further than `count` (the load_id indexes find them). -#}
{% macro new_rows_reach(relation, since, count) -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query(
            'select count(*) from (select from ' ~ relation ~ ' where load_id > ' ~ since
            ~ ' limit ' ~ (count | int) ~ ') as t'
        ) -%}
        {{- return(result.columns[0].values()[0] | int >= count | int) -}}
    {%- else -%}
        {{- return(false) -}}
    {%- endif -%}
{%- endmacro %}

{#- The key under which bronze.dbt_state keeps the batch a model last took in. -#}
{% macro batch_state_key() -%}
    batch_taken_in:{{ this.schema }}.{{ this.identifier }}
{%- endmacro %}

{#- A post-hook of the incremental models that stamp their rows with current_batch(): the newest fact
    batch they have now taken in, kept apart from their rows. A model that a batch leaves without a
    row (global trends below their minimum of listeners, countries of plays that carry none) would
    otherwise keep an old watermark, and every later refresh would recompute what that batch and all
    after it reached: on an install of one or two listeners, every refresh the whole history. In the
    model's own transaction, so it is kept only with the rows it describes. Not the facts themselves
    (fct_plays, and fct_play_sources beside it): every row they take in carries its batch. -#}
{% macro remember_batch() -%}
    {%- if model.config.materialized == 'incremental' and model.name not in ('fct_plays', 'fct_play_sources') -%}
    insert into bronze.dbt_state (key, value)
    values ('{{ batch_state_key() }}', {{ current_batch() }}::text)
    on conflict (key) do update set value = excluded.value, updated_at = now()
    {%- endif -%}
{%- endmacro %}

{#- The batch id that aggregates stamp on what they recompute: the newest fact batch. -#}
{% macro current_batch() -%}
    (select coalesce(max(_batch_load_id), 0) from {{ ref('fct_plays') }})
{%- endmacro %}

{#- A SQL list literal of text values, `(null)` when empty (matches nothing). -#}
{% macro sql_list(values) -%}
    {%- if values | length == 0 -%}(null){%- else -%}
    ({%- for v in values -%}'{{ v | replace("'", "''") }}'{%- if not loop.last -%}, {% endif -%}{%- endfor -%})
    {%- endif -%}
{%- endmacro %}

{#- Each listener's local days with facts, and the newest fact batch that wrote each
    (bronze.dbt_fact_days): a post-hook of the facts, in their transaction. Every per-user aggregate
    reads what it recomputes here (changed_users, changed_local_days), a few rows per import, where
    each of them read the batch's facts again (200,000 new plays: ~0.1 s each, some fifteen times a
    refresh). A day keeps the newest batch that wrote it, so that the days written since any watermark
    are those with a newer batch: those a model that fell behind by several batches recomputes too.
    The batches not recorded yet are those newer than the newest recorded (a literal: PostgreSQL
    estimates it, and reads a daily import's facts through their batch index). -#}
{% macro record_fact_days() -%}
    {%- set recorded = run_query('select coalesce(max(batch_load_id), 0) from bronze.dbt_fact_days') if execute -%}
    insert into bronze.dbt_fact_days as d (user_id, local_date, batch_load_id)
    select user_id, local_date, max(_batch_load_id)
    from {{ this }}
    where _batch_load_id > {{ recorded.columns[0].values()[0] | int if recorded else 0 }}
    group by user_id, local_date
    on conflict (user_id, local_date) do update
        set batch_load_id = greatest(d.batch_load_id, excluded.batch_load_id)
{%- endmacro %}

{#- The (user_id, local_date) of each listener's days that facts newer than `wm` were written in
    (record_fact_days). The macros below still take `facts`, the fact table whose post-hook records
    these days: their callers' ref() of it names what the days are of. -#}
{% macro fact_days_since(wm) -%}
    select user_id, local_date from bronze.dbt_fact_days where batch_load_id > {{ wm }}
{%- endmacro %}

{#- Users whose facts changed since this model last ran, as a literal list (per-user aggregates
    recompute only them, through the user_id indexes). -#}
{% macro changed_users(facts) -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query('select distinct user_id from (' ~ fact_days_since(watermark())
                                   ~ ') as d order by 1') -%}
        {{- sql_list(result.columns[0].values()) -}}
    {%- else -%}
        (null)
    {%- endif -%}
{%- endmacro %}

{#- The local days of new facts since this model last ran, and two days either side, as a query of
    (user_id, local_date): the days the facts may have left. A row silver found to belong to an event
    on the next or previous day leaves its own day (absorbed_rows.sql); a listener who moved to another
    time zone has all their facts anew, each up to two local days from where it was (zones lie at most
    26 hours apart: UTC-12 to UTC+14). -#}
{% macro changed_local_days(facts, wm=none) -%}
    select distinct d.user_id, d.local_date + shift.days as local_date
    from ({{ fact_days_since(watermark() if wm is none else wm) }}) as d
    cross join (values (-2), (-1), (0), (1), (2)) as shift (days)
{%- endmacro %}

{#- A pre-hook of the per-day aggregates: the days they recompute go first, so that a day left with
    no play loses its row (delete+insert replaces only the days the new output has rows for). -#}
{% macro delete_changed_local_days(facts) %}
    {%- if is_incremental() %}
    delete from {{ this }} as a
    using ({{ changed_local_days(facts) }}) as c
    where a.user_id = c.user_id and a.local_date = c.local_date
    {%- endif %}
{% endmacro %}

{#- The local months of changed_local_days, as a query of (user_id, month_start): what the per-period
    rankings (rank_music) compute again, and what their pre-hook deletes first. -#}
{% macro changed_local_months(facts, wm=none) -%}
    select distinct d.user_id, date_trunc('month', d.local_date)::date as month_start
    from ({{ changed_local_days(facts, wm) }}) as d
{%- endmacro %}

{#- The (listener, local month) pairs that the monthly aggregates of plays and track details (agg_genres,
    agg_release_decades) compute again, as a query of (user_id, month_start): the months of new facts
    (changed_local_months), and each month in which a listener played a track whose genres or release
    year changed since this model last ran at `wm` (dim_track.details_load_id). -#}
{% macro changed_detail_months(wm) -%}
    {{ changed_local_months(ref('fct_plays'), wm) }}
    union
    -- (every play of a track key is of its kind: a filter on the plays' content type would only make
    -- PostgreSQL guess too few rows and probe dim_track once a play, 40 ms instead of 7 for 20,000)
    select distinct f.user_id, date_trunc('month', f.local_date)::date
    from {{ ref('dim_track') }} as d
    join {{ ref('fct_plays') }} as f on f.track_key = d.track_key
    where d.details_load_id > {{ wm }}
{%- endmacro %}

{#- changed_detail_months read when the model runs, as a predicate: a listener's `date_col` in one of
    the runs of consecutive months they have there (ranges their (user_id, date) index serves: a
    listener's whole history is one, a day's import one month); `true` on a full build. -#}
{% macro in_changed_detail_months(user_col, date_col) -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query('select user_id, month_start::text from (' ~ changed_detail_months(watermark())
            ~ ') as m order by 1, 2') -%}
        {%- set runs = [] -%}
        {%- for user_id, month in result.rows -%}
            {%- set first = modules.datetime.date.fromisoformat(month) -%}
            {%- set after = (first + modules.datetime.timedelta(days=32)).replace(day=1) -%}
            {%- if runs and runs[-1][0] == user_id and runs[-1][2] == first -%}
                {%- do runs.append([user_id, runs.pop()[1], after]) -%}
            {%- else -%}
                {%- do runs.append([user_id, first, after]) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if runs | length == 0 %}false{% endif -%}
        {%- for user_id, first, after in runs -%}
        ({{ user_col }} = '{{ user_id | replace("'", "''") }}' and {{ date_col }} >= '{{ first }}'::date
            and {{ date_col }} < '{{ after }}'::date){% if not loop.last %} or {% endif %}
        {%- endfor -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A pre-hook of the monthly aggregates of plays and track details: the months they compute again go
    first, so that a month left with no play loses its rows. -#}
{% macro delete_changed_detail_months() %}
    {%- if is_incremental() %}
    delete from {{ this }} as a
    using ({{ changed_detail_months(watermark()) }}) as c (user_id, month_start)
    where a.user_id = c.user_id and a.month = c.month_start
    {%- endif %}
{% endmacro %}

{#- A pre-hook of the per-period rankings (rank_music): the rankings a refresh computes again go first,
    so that a month left with no play loses its rows: the changed local months, their years, and all
    time of their listeners. -#}
{% macro delete_changed_rankings(facts) %}
    {%- if is_incremental() %}
    delete from {{ this }} as r
    using ({{ changed_local_months(facts) }}) as c
    where r.user_id = c.user_id
        and (
            r.period = 'all'
            or (r.period = 'year' and r.period_start = date_trunc('year', c.month_start)::date)
            or (r.period = 'month' and r.period_start = c.month_start)
        )
    {%- endif %}
{% endmacro %}

{#- ISO weeks (Mondays) with new facts since this model last ran, by their local days and two days
    either side (changed_local_days); none on a full build, which recomputes every week. -#}
{% macro changed_weeks(facts) -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query("select distinct date_trunc('week', local_date)::date from ("
                                   ~ changed_local_days(facts) ~ ") as days order by 1") -%}
        {{- return(result.columns[0].values() | map('string') | list) -}}
    {%- else -%}
        {{- return(none) -}}
    {%- endif -%}
{%- endmacro %}

{#- A pre-hook of the per-week rankings: the weeks they recompute go first, so that a week that no
    longer ranks anything loses its rows. -#}
{% macro delete_changed_weeks(facts) %}
    {%- if is_incremental() %}
    {%- set weeks = changed_weeks(facts) %}
    delete from {{ this }} where {{ week_ranges('week_start', weeks) }}
    {%- endif %}
{% endmacro %}

{#- `col` falls in one of these weeks (sorted Mondays): date ranges the index on the column can serve,
    one per run of consecutive weeks (ten years of new plays are one range, not 520 tests a row). -#}
{% macro week_ranges(col, weeks) -%}
    {%- if weeks | length == 0 -%}false{%- else -%}
    {%- set runs = [] -%}
    {%- for w in weeks -%}
        {%- set monday = modules.datetime.date.fromisoformat(w) -%}
        {%- if runs and (monday - runs[-1][1]).days == 7 -%}
            {%- set first = runs.pop()[0] -%}
            {%- do runs.append([first, monday]) -%}
        {%- else -%}
            {%- do runs.append([monday, monday]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for first, last in runs -%}
    ({{ col }} >= '{{ first }}'::date and {{ col }} < '{{ last }}'::date + 7){% if not loop.last %} or {% endif %}
    {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
