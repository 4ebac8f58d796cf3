{#-
  What int_plays__deduplicated's tiers 4+ compare of each row (its match fields) and which rows they
  compare (the candidate pairs), written once for its own select and for the three tables a whole
  build stores them in beforehand: int_plays__matchable and int_plays__match_probes (the rows' match
  fields), then int_plays__match_pairs.

  Why stored: in a whole build the names key of every row (two regular expressions on each name) and
  the pairs' join were a third of the dedupe's one statement, which PostgreSQL runs on one core. As
  models, dbt computes the two sides' match fields on two connections at once, as soon as staging is
  done, and the pairs join two narrow tables whose statistics PostgreSQL knows, in a statement of
  their own that it may run on every core (a parallel hash join). An incremental run reads a few days
  of rows: it computes them inline, and the three tables are left empty.
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

{#- stamped on each match-row table once built: the dbt invocation that built it -#}
{% macro mark_match_rows() %}
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
                to_regclass('{{ ref("int_plays__match_probes").include(database=false) }}'),
                to_regclass('{{ ref("int_plays__match_pairs").include(database=false) }}')
            )
    {%- endset -%}
    {{ return(run_query(stamped).columns[0].values()[0] | int == 3) }}
{% endmacro %}

{#- the candidate pairs of tiers 4+ (a row, an earlier row it may be one event with, their distance in
    seconds, and the row's lineage as row_<column>), as the CTEs reach, <identity>_probes and pairs:
    `matchable` is the relation or CTE of the rows a row can meet, `probe_rows` the rows of tiers 4+
    carrying each identity, with their match fields and lineage (an SQL select for each of
    match_identity_columns()). `fence`: each probe row's hours worked out once, below a fence (which
    keeps the join on one core), rather than in each hour's copy of it. The rule is
    int_plays__deduplicated's (its header). -#}
{% macro match_pairs(matchable, probe_rows, fence=true) %}
{%- set window = var('dedupe_window_s') | int %}
{%- set identity_keys = match_identity_columns().keys() | list %}
{%- set lineage_columns = match_lineage_columns() %}
-- the coarsest precision a row of tiers 4+ can meet
reach as (
    select max(precision_ms) as precision_ms from {{ matchable }}
),

{#- the rows of tiers 4+ carrying one identity, each once per hour it may find a candidate in. A row
    that knows its end can meet an earlier row by its end or by overlapping it, whatever their starts:
    its own hour and the ones either side. A row that knows only its start (a scrobble) meets one by
    its start alone, within the tolerance: its own hour, and a neighbour only when it starts that
    close to the hour's edge (most scrobbles probe one hour instead of three, and find the same pairs).
    Not stored. Its match fields are the probe rows' own (stored, or computed below a fence): inlined
    above a computation, each use of a field (the names key, the start) would be computed again in
    every filter and output above it, for every hour probed. #}
{%- set reach_s %}({{ window }} + (f.precision_ms + (select precision_ms from reach)) / 1000.0::float8){% endset %}
{%- for key in identity_keys %}

{{ key }}_probes as not materialized (
    select m.*, m.start_hour + shift.hours as probe_hour
    from (
        select
            f.*,
            f.match_end is not null or f.match_start is not null as probes_own_hour,
            -- in float8 seconds, widened by a millisecond: a neighbour probed for nothing finds no pair
            f.match_end is not null
                or date_part('epoch', f.match_start) - {{ reach_s }} - 0.001 < f.start_hour * 3600 as probes_hour_before,
            f.match_end is not null
                or date_part('epoch', f.match_start) + {{ reach_s }} + 0.001 >= (f.start_hour + 1) * 3600 as probes_hour_after
        from (
            {{ probe_rows[key] }}
        ) as f
        {%- if fence %}
        offset 0
        {%- endif %}
    ) as m
    cross join (values (-1), (0), (1)) as shift (hours)
    where case shift.hours when 0 then m.probes_own_hour when -1 then m.probes_hour_before else m.probes_hour_after end
),
{%- endfor %}

{%- set tolerance %}({{ window }} + (a.precision_ms + b.precision_ms) / 1000.0){% endset %}
{%- set start_gap %}abs(extract(epoch from a.match_start - b.match_start)){% endset %}
{%- set end_gap %}abs(extract(epoch from a.match_end - b.match_end)){% endset %}

-- candidate pairs: a row of a later tier, an earlier row sharing the strongest identity both carry
pairs as (
    {%- for key in identity_keys %}
    select
        a.user_id,
        a.play_id as row_id,
        a.source_tier as row_tier,
        b.play_id as other_id,
        {%- for column in lineage_columns %}
        a.row_{{ column }},
        {%- endfor %}
        least({{ start_gap }}, {{ end_gap }}) as distance
    from {{ key }}_probes as a
    -- the hour first: PostgreSQL sorts by these in this order, and an integer splits the rows fastest
    -- (names often share their first bytes, so a sort on the key compares whole strings); a
    -- leading user_id that every row of one listener shares would be walked by every comparison
    join {{ matchable }} as b
        on b.start_hour = a.probe_hour
        and b.{{ key }} = a.{{ key }}
        and b.user_id = a.user_id
    where b.source_tier < a.source_tier
        -- a row without this key has no candidate by it (said outright, so that PostgreSQL drops
        -- those rows before sorting or hashing: Last.fm's rows carry neither a Spotify id nor an ISRC)
        and a.{{ key }} is not null
        and b.{{ key }} is not null
        {%- for stronger in identity_keys[:loop.index0] %}
        and (a.{{ stronger }} is null or b.{{ stronger }} is null)
        {%- endfor %}
        and (
            {{ start_gap }} <= {{ tolerance }}
            or {{ end_gap }} <= {{ tolerance }}
            -- only two intervals both rows know whole overlap: least and greatest skip a null, which
            -- would take a scrobble's unknown end as reaching over every later play of its song
            or (
                a.match_start is not null and a.match_end is not null
                and b.match_start is not null and b.match_end is not null
                and extract(epoch from least(a.match_end, b.match_end) - greatest(a.match_start, b.match_start))
                    > 0.5 * least(extract(epoch from a.match_end - a.match_start),
                        extract(epoch from b.match_end - b.match_start))
            )
        )
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)
{%- endmacro %}
