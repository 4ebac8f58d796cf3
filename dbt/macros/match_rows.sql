{#-
  What int_plays__deduplicated's tiers 4+ compare of each row (its match fields), written once for
  its own select and for the two tables a whole build stores them in beforehand
  (int_plays__matchable, int_plays__match_probes).

  Why stored: in a whole build the names key of every row (two regular expressions on each name) and
  the candidate pairs' join were a third of the dedupe's single, serial statement. Stored by two
  models, dbt computes them on two connections at once (one core each) as soon as staging is done,
  and the dedupe then joins two narrow tables whose statistics PostgreSQL knows instead of two of its
  own CTEs, which it must estimate blind, and reads them directly, so that parallel workers share the
  join (they never read a CTE). The dedupe empties them once read (release_match_rows). An
  incremental run reads a few days of rows and computes them inline: a refresh leaves the two models
  out (tag whole_build_only, tracktracker_assets/transform/assets.py), any other run builds them empty.
-#}

{#- each row's match fields (a moment the row does not know is null, never guessed: an end-stamped row
    of unknown length taken to start at its end would sit on the start of the song's next play) -#}
{% macro match_fields() %}
        play_id,
        user_id,
        source_tier,
        precision_ms,
        coalesce(started_at, ended_at - media_duration_ms * interval '1 millisecond') as match_start,
        case when has_known_end then ended_at end as match_end,
        has_known_end,
        spotify_track_id,
        isrc,
        recording_mbid,
        case when track_name is not null
            then {{ name_key('artist_name') }} || '|' || {{ name_key('track_name') }}
        end as names_key,
        -- float8 seconds (date_part, not extract's numeric: a third of the cost): exact for a whole
        -- hour of microseconds, and the same on both sides of the join
        floor(date_part('epoch', coalesce(started_at,
            ended_at - coalesce(media_duration_ms, 0) * interval '1 millisecond')) / 3600)::bigint as start_hour
{%- endmacro %}

{#- what an absorbed row of tiers 4+ leaves its event (its lineage and durations), carried from the
    row's probe to its match (as row_<column>) so that no absorbed row is read from staging again -#}
{% macro match_lineage_columns() %}
    {{ return(['source', 'service', 'content_uri', 'ms_played', 'is_ms_played_estimated',
        'media_duration_ms', 'load_id']) }}
{% endmacro %}

{#- the staging column a row carries exactly when it carries each identity (names_key: a track name),
    strongest first -#}
{% macro match_identity_columns() %}
    {{ return({'spotify_track_id': 'spotify_track_id', 'isrc': 'isrc',
        'recording_mbid': 'recording_mbid', 'names_key': 'track_name'}) }}
{% endmacro %}

{#- the highest tier present among tiers 4+ of `plays` (a relation or CTE of conformed plays): each
    test stops at its tier's first row (the view reads only that tier's table), where a max() would
    read every row of history -#}
{% macro last_play_tier(plays) %}
    select coalesce(
        {%- for t in play_tiers(play_sources()) | reverse %}
        (select {{ t.tier }} where exists (select 1 from {{ plays }} where source_tier = {{ t.tier }})),
        {%- endfor %}
        null
    ) as source_tier
{%- endmacro %}

{#- whether int_plays__deduplicated builds whole in this run (no table yet, or --full-refresh): only
    then are the match rows stored beforehand -#}
{% macro dedupe_builds_whole() %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set dedupe = adapter.get_relation(database=this.database, schema=this.schema,
        identifier='int_plays__deduplicated') -%}
    {{ return(dedupe is none or flags.FULL_REFRESH) }}
{% endmacro %}

{#- int_plays__deduplicated's post-hook: the match rows it may have read emptied, in its own transaction,
    so that no copy of every listener's rows stays beside silver until the next whole build. After an
    incremental run they are empty already: looked at, not truncated (a truncate makes new files) -#}
{% macro release_match_rows() %}
    do $release$ begin
        if exists (select from {{ ref('int_plays__matchable') }})
            or exists (select from {{ ref('int_plays__match_probes') }}) then
            truncate {{ ref('int_plays__matchable') }}, {{ ref('int_plays__match_probes') }};
        end if;
    end $release$
{% endmacro %}

{#- each match-row table's post-hook, in the transaction that built it: its statistics for the dedupe's
    plan; autovacuum kept away (it counts the million rows inserted only once this transaction commits,
    so it would vacuum and analyze the table again while the dedupe reads it, on the core the build
    needs, for a table emptied once read); and the stamp of the dbt invocation that built it -#}
{% macro finish_match_rows() %}
    analyze {{ this }};
    alter table {{ this }} set (autovacuum_enabled = false);
    comment on table {{ this }} is 'match rows of dbt invocation {{ invocation_id }}'
{% endmacro %}

{#- whether the dedupe, building whole, can read the match rows stored in this same dbt invocation:
    never in an incremental run, a unit test (its inputs are fixtures) or a run that left the two
    models out (their rows would be another build's) -#}
{% macro stored_match_rows_current() %}
    {%- if not execute or model.resource_type == 'unit_test' or is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stamped -%}
        select count(*) from pg_description
        where classoid = 'pg_class'::regclass and objsubid = 0
            and description = 'match rows of dbt invocation {{ invocation_id }}'
            and objoid in (
                to_regclass('{{ ref("int_plays__matchable").include(database=false) }}'),
                to_regclass('{{ ref("int_plays__match_probes").include(database=false) }}')
            )
    {%- endset -%}
    {{ return(run_query(stamped).columns[0].values()[0] | int == 2) }}
{% endmacro %}
