{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'ended_date'],
        incremental_strategy='replace_user_days',
        indexes=[
            {'columns': ['play_id', 'user_id'], 'unique': True},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['_batch_load_id']},
            {'columns': ['track_key']},
            {'columns': ['artist_key']},
            {'columns': ['album_key']},
            {'columns': ['user_id', 'timezone']},
        ],
        post_hook=['{{ release_match_rows() }}'],
    )
}}
{# replace_user_days: delete+insert, after removing the rows that new events absorbed from other
   days (macros/absorbed_rows.sql) #}
-- the match rows a whole build stores beforehand (read only when current: macros/match_rows.sql)
-- depends_on: {{ ref('int_plays__matchable') }}, {{ ref('int_plays__match_probes') }}

{#-
  One row per listening event from every source: "one play, once".

  Incremental unit: a user's UTC day (of ended_at; a start-stamped row without a known duration ends
  at its start plus the track's length, else at its start: int_plays__conformed). A run recomputes
  every day that new staging rows touch, one day either side (a duplicate or a session can straddle
  midnight), reading one more day either side as context; dbt then replaces exactly those user-days.
  The cost follows the new rows, not history.

  Which rows are one event, in a fixed order of tiers, richest source first; each tier is matched
  against the events the tiers before it made, and the first row of an event (its winner) gives the
  event's row:

  1-3. Spotify's own sources, by their own rules (extended > account > API):
    - account vs extended: same user, names and ms_played, end within a minute (account data has
      minute precision);
    - API vs extended: same user and track URI, end times within `dedupe_window_s`;
    - API vs account: same user and names, end times within the window (plus the account minute).
  4+. Every other service's play model (play_sources()), in play_tiers() order (apple_music, deezer,
    listenbrainz, tidal, lastfm, youtube_music). A row and an earlier event are candidates when
    - they share an identity: the strongest both carry decides (Spotify track id, then ISRC, then
      MusicBrainz recording id, then the conformed artist + title); two rows that both carry a
      Spotify id are different songs when the ids differ, whatever their names;
    - and they are close in time: their starts lie within the tolerance (dedupe_window_s plus both
      rows' precision, so a minute-precision source gets its minute), or both know their end and
      the ends do, or their intervals, when both rows know theirs whole, overlap by more than half
      of the shorter one. Start-stamped rows (Last.fm, YouTube Music, ListenBrainz submissions)
      know their start; end-stamped ones (Spotify, Deezer, ListenBrainz's Spotify-importer rows)
      know their end and their start from the duration: the end minus ms_played, else minus the
      track's length. A moment a row does not know (the start of an end-stamped row of unknown
      length, the end of a scrobble) is never compared: taken as its end, the start of an
      end-stamped row would fall on the start of the song's next play.
    The distance of a pair is the smaller of the start and end differences (seconds), and an event
    is as close as its nearest row. A row joins an event only when each is the other's nearest
    candidate (ties: the smaller id), in up to three rounds, each over the rows and events earlier
    rounds left: a row never joins two events, an event takes at most one row per tier, two real
    plays of a song in a row stay two, and a row whose nearest event took a nearer row (the end of
    one play is the start of its repeat) still finds the play it belongs to.
  Candidate pairs come from equi-joins on (hour of the start, identity key, user), each row probing
  its own hour and the ones either side (a row that knows only its start: the hours its tolerance
  reaches): never a loop over a listener's history. Only the rows that have a candidate take part
  in the tiers.

  The event keeps its winner's row and times, the list of every source and service it was seen in, the
  rows it absorbed (lineage to every bronze row: linked_play_id, _service, _source and _load_id when
  it absorbed one, as most do; linked_rows, a JSON array of them all, when several), a track URI from
  an absorbed row if it had none, and the best-known duration: a measured ms_played (winner first,
  then by tier), else an estimate (the Spotify API's, else the track's length, else 0), flagged
  is_ms_played_estimated. A play counts (is_counted_play) when its measured ms_played reaches
  counted_play_ms; without a measurement, when a scrobble service saw it (scrobble_services(): they
  submit a play only after half the track or four minutes, and never under 30 s), else when the
  estimate reaches it.
-#}

{% set window = var('dedupe_window_s') | int %}
{% set tiers = play_tiers(play_sources()) %}
{#- each identity, strongest first, and the staging column a row carries it in: macros/match_rows.sql #}
{% set identity_columns = match_identity_columns() %}
{% set identity_keys = identity_columns.keys() | list %}
{% set match_rounds = 3 %}
{#- what an absorbed row leaves its event: macros/match_rows.sql #}
{% set lineage_columns = match_lineage_columns() %}
{% set row_lineage %}{% for column in lineage_columns %}, row_{{ column }}{% endfor %}{% endset %}
{#- appended to a read of one or more source tiers: whether the candidates hold any (`TIER` replaced by
    the read's condition on the tier), a one-time filter of an incremental run. A full build reads each
    tier's own table, which an absent tier leaves empty. -#}
{% set and_tier_present = ' and exists (select 1 from present_tiers where source_tier TIER)' if is_incremental() else '' %}
{#- the highest load this model has taken in, asked of the database once for every use below #}
{% set wm = watermark() %}

with

-- never stored: read twice in an incremental run, PostgreSQL would otherwise copy every row of history
-- into it (2.3 s for 2,000,000 rows with nothing new); inlined, each use takes only the rows its
-- filter reaches through the staging tables' indexes
staged as not materialized (
    select * from {{ ref('int_plays__conformed') }}
),

users as (
    select user_id, timezone, load_id from {{ ref('stg_registry__users') }}
),

{% if is_incremental() %}

new_rows as (
    select user_id, ended_date, load_id
    from staged
    where load_id > {{ wm }}
),

-- a user whose time zone changed: all their days, since local dates and hours move (two index
-- probes per user, min and max of the zone their rows carry, instead of scanning every play)
moved_users as (
    select u.user_id
    from users as u
    where exists (select 1 from {{ this }} as p where p.user_id = u.user_id)
        and (
            (select min(p.timezone) from {{ this }} as p where p.user_id = u.user_id) is distinct from u.timezone
            or (select max(p.timezone) from {{ this }} as p where p.user_id = u.user_id) is distinct from u.timezone
        )
),

changed_days as (
    select distinct user_id, ended_date from new_rows
    union
    select distinct p.user_id, p.ended_date
    from {{ this }} as p
    where p.user_id in (select user_id from moved_users)
),

affected_days as (
    select distinct c.user_id, c.ended_date + shift.days as ended_date
    from changed_days as c
    cross join (values (-1), (0), (1)) as shift (days)
),

context_days as (
    select distinct a.user_id, a.ended_date + shift.days as ended_date
    from affected_days as a
    cross join (values (-1), (0), (1)) as shift (days)
),

-- stored for a batch of ordinary size: each of the many reads below is then one pass over a few rows
-- (50 new plays: 0.11 s, against 0.23 s read at each use). Not for a large one, from
-- TRACKTRACKER_DEDUPE_LARGE_BATCH_ROWS new rows: a store of its wide rows spills to disk (a listener's
-- million scrobbles folded into their million Spotify plays: 48 s, against 20 s read at each use;
-- the same at 200,000)
{%- set large_batch = new_rows_reach(
    ref('int_plays__conformed'), wm, env_var('TRACKTRACKER_DEDUPE_LARGE_BATCH_ROWS', '100000') | int) %}
candidates as {{ 'not materialized ' if large_batch }}(
    select s.*
    from staged as s
    join context_days as c on c.user_id = s.user_id and c.ended_date = s.ended_date
),

-- the newest load taken in; a listener's move to another time zone is one (warehouse/zone_moves.py
-- gives it an id before dbt starts), so that gold takes in the days it re-localises
batch as (
    select greatest(
        {{ wm }},
        (select coalesce(max(load_id), 0) from new_rows),
        (select coalesce(max(load_id), 0) from users)
    ) as load_id
),

-- the source tiers the candidates hold, in one pass over them: each read of a tier below is skipped
-- when it is absent (a large Spotify import read its rows once more for each of seven such reads)
present_tiers as (
    select distinct source_tier from candidates
),

{% else %}

-- not stored: each use below reads the staging tables it needs (the conformed view is cheap to read,
-- and a store of every source's wide rows spills to disk; a filter on source_tier skips a table whole)
candidates as not materialized (
    select * from staged
),

batch as (
    select greatest(
        (select coalesce(max(load_id), 0) from candidates),
        (select coalesce(max(load_id), 0) from users)
    ) as load_id
),

{% endif %}

extended as (
    select * from candidates where source_tier = 1
),

account as (
    select * from candidates where source_tier = 2{{ and_tier_present | replace('TIER', '= 2') }}
),

api as (
    select * from candidates where source_tier = 3{{ and_tier_present | replace('TIER', '= 3') }}
),

account_in_extended as (
    select a.play_id as duplicate_id, min(e.play_id) as winner_id
    from account as a
    join extended as e
        on e.user_id = a.user_id
        and e.ms_played = a.ms_played
        and {{ name_key('e.track_name') }} = {{ name_key('a.track_name') }}
        -- audiobooks: account data names the author, extended history the book
        and case when a.content_type = 'audiobook'
            then {{ name_key('e.album_name') }} = {{ name_key('a.album_name') }}
            else {{ name_key('e.artist_name') }} = {{ name_key('a.artist_name') }}
        end
        and e.ended_at >= a.ended_at - interval '1 minute'
        and e.ended_at < a.ended_at + interval '2 minutes'
    group by a.play_id
),

api_in_extended as (
    select a.play_id as duplicate_id, min(e.play_id) as winner_id
    from api as a
    join extended as e
        on e.user_id = a.user_id
        and e.content_uri = a.content_uri
        and e.ended_at between a.ended_at - interval '{{ window }} seconds'
            and a.ended_at + interval '{{ window }} seconds'
    group by a.play_id
),

api_in_account as (
    select a.play_id as duplicate_id, min(k.play_id) as winner_id
    from api as a
    join account as k
        on k.user_id = a.user_id
        and {{ name_key('k.track_name') }} = {{ name_key('a.track_name') }}
        and {{ name_key('k.artist_name') }} = {{ name_key('a.artist_name') }}
        and a.ended_at between k.ended_at - interval '{{ window }} seconds'
            and k.ended_at + interval '{{ window + 60 }} seconds'
    where not exists (select 1 from account_in_extended as x where x.duplicate_id = k.play_id)
        and not exists (select 1 from api_in_extended as x where x.duplicate_id = a.play_id)
    group by a.play_id
),

spotify_absorbed as (
    select duplicate_id as play_id, winner_id as event_id from account_in_extended
    union all
    select duplicate_id, winner_id from api_in_extended
    union all
    select duplicate_id, winner_id from api_in_account
),

{% if tiers | length > 0 %}

{#- a whole build reads the rows' match fields as two models stored them, on two connections at once,
    when both were built in this run (macros/match_rows.sql); otherwise they are computed here #}
{%- set stored = stored_match_rows_current() %}

-- the highest tier present among tiers 4+ (a candidate is always of an earlier tier than its row, so
-- rows of that tier are never one: a listener's Last.fm history is not sorted or hashed against itself)
last_tier as (
    {%- if is_incremental() %}
    select max(source_tier) as source_tier from present_tiers where source_tier > 3
    {%- else %}
    {{ last_play_tier('candidates') }}
    {%- endif %}
),

-- the rows a row of tiers 4+ can meet, with their match fields (stored: each identity's join below
-- reads it), every tier but the last present. When the candidates hold no row of tiers 4+ (Spotify's
-- sources only), nothing is computed: an empty side ends a join before its other side is read
matchable as (
    {%- if stored %}
    select * from {{ ref('int_plays__matchable') }}
    {%- else %}
    select {{ match_fields() }}
    from candidates
    where source_tier < (select source_tier from last_tier)
    {%- endif %}
),

-- the coarsest precision a row of tiers 4+ can meet
reach as (
    select max(precision_ms) as precision_ms from matchable
),

{#- the rows of tiers 4+ carrying one identity, each once per hour it may find a candidate in. A row
    that knows its end can meet an earlier row by its end or by overlapping it, whatever their starts:
    its own hour and the ones either side. A row that knows only its start (a scrobble) meets one by
    its start alone, within the tolerance: its own hour, and a neighbour only when it starts that
    close to the hour's edge (most scrobbles probe one hour instead of three, and find the same pairs).
    Not stored. Its match fields are the stored ones (int_plays__match_probes), else computed once a
    row, below a fence (offset 0): inlined, each use of a field (the names key, the start) would be
    computed again in every filter and output above it, for every hour probed. The filter on the
    identity's own column stays below the fence, so that the view reads only the tables and rows that
    carry it. Over the stored fields there is no fence: a subquery with an offset is never split among
    parallel workers, and without it PostgreSQL runs the pairs' join below on every core (a million
    scrobbles: 2.3-2.6 s against 3.4-4.4 s). #}
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
            {%- if stored %}
            select * from {{ ref('int_plays__match_probes') }} where {{ key }} is not null
            {%- else %}
            select {{ match_fields() }}, {% for column in lineage_columns %}{{ column }} as row_{{ column }}{{ ', ' if not loop.last }}{% endfor %}
            from candidates
            where source_tier > 3 and {{ identity_columns[key] }} is not null{{ and_tier_present | replace('TIER', '> 3') }}
            offset 0
            {%- endif %}
        ) as f
        {%- if not stored %}
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
{#- the stored rows read as the table itself: parallel workers never read a CTE #}
{%- set matchable_rows = ref('int_plays__matchable') if stored else 'matchable' %}

-- candidate pairs: a row of a later tier, an earlier row sharing the strongest identity both carry
pairs as (
    {%- for key in identity_keys %}
    select
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
    join {{ matchable_rows }} as b
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
),

{%- for t in tiers %}
{%- set earlier = tiers[:loop.index0] %}

-- the rows absorbed before tier {{ t.tier }}, with their events: by Spotify's rules and in each earlier tier
-- (a row is absorbed at most once, so one lookup here finds its event). Not stored: each use reads it.
tier_{{ t.tier }}_absorbed_before as not materialized (
    select play_id as row_id, event_id from spotify_absorbed
    {%- for e in earlier %}
    union all
    select row_id, event_id from tier_{{ e.tier }}_matches
    {%- endfor %}
),

-- tier {{ t.tier }} ({{ t.model }}): its rows' candidate events (an absorbed row stands for its event, so a
-- row may reach one event through several pairs: the nearest counts). When no row was absorbed before
-- this tier, every pair's earlier row is its own event and a pair is unique per row and earlier row
-- (one identity, one probed hour): the pairs are the candidates as they are, neither looked up nor
-- grouped. Which branch runs is decided once, before either reads a pair.
tier_{{ t.tier }}_candidates as (
    select
        p.row_id,
        p.other_id as event_id,
        p.distance,
        {%- for column in lineage_columns %}
        p.row_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from pairs as p
    where p.row_tier = {{ t.tier }}
        and not exists (select 1 from tier_{{ t.tier }}_absorbed_before)
    union all
    select
        p.row_id,
        coalesce(x.event_id, p.other_id) as event_id,
        min(p.distance) as distance,
        {%- for column in lineage_columns %}
        p.row_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from pairs as p
    left join tier_{{ t.tier }}_absorbed_before as x on x.row_id = p.other_id
    where p.row_tier = {{ t.tier }}
        and exists (select 1 from tier_{{ t.tier }}_absorbed_before)
    -- the row's own lineage is the same in each of its pairs: grouped by, it splits no group (and
    -- needs no any_value(), which PostgreSQL 15 lacks)
    group by 1, 2{% for column in lineage_columns %}, p.row_{{ column }}{% endfor %}
),

-- the rows and the events with more than one candidate (hashed: counting every candidate with a window
-- sorted the wide rows twice, on disk for a million); a row and an event that are each other's only
-- candidate (most of them: a play and its scrobble) are one event outright, and only the others go
-- through the rounds below, which then read a handful of candidates instead of every one
tier_{{ t.tier }}_contested_rows as (
    select row_id from tier_{{ t.tier }}_candidates group by row_id having count(*) > 1
),

tier_{{ t.tier }}_contested_events as (
    select event_id from tier_{{ t.tier }}_candidates group by event_id having count(*) > 1
),

-- both lookups are hashed subplans: PostgreSQL has no statistics for a CTE and always estimates these
-- few enough to hash (a hashed subplan grows as it must; it never rescans per candidate)
tier_{{ t.tier }}_contested as (
    select row_id, event_id, distance{{ row_lineage }}
    from tier_{{ t.tier }}_candidates as c
    where c.row_id in (select row_id from tier_{{ t.tier }}_contested_rows)
        or c.event_id in (select event_id from tier_{{ t.tier }}_contested_events)
),

-- mutual nearest: the row's nearest event, and that event's nearest row of this tier; in rounds,
-- each over the rows and events the rounds before left (a row whose nearest event took a nearer row
-- then finds its next nearest: back-to-back repeats of a song chain so). What a round leaves is kept
-- (tier_N_left_R), so that a later round reads only that, not every candidate again.
{%- for round in range(1, match_rounds + 1) %}
{%- set round_input = 'tier_' ~ t.tier ~ '_contested' if round == 1 else 'tier_' ~ t.tier ~ '_left_' ~ (round - 1) %}
tier_{{ t.tier }}_round_{{ round }} as (
    select row_id, event_id{{ row_lineage }}
    from (
        select
            c.row_id,
            c.event_id,
            {%- for column in lineage_columns %}
            c.row_{{ column }},
            {%- endfor %}
            row_number() over (partition by c.row_id order by c.distance, c.event_id) as event_rank,
            row_number() over (partition by c.event_id order by c.distance, c.row_id) as row_rank
        from {{ round_input }} as c
    ) as ranked
    where event_rank = 1 and row_rank = 1
),
{%- if not loop.last %}

tier_{{ t.tier }}_left_{{ round }} as (
    select c.*
    from {{ round_input }} as c
    where not exists (select 1 from tier_{{ t.tier }}_round_{{ round }} as m where m.row_id = c.row_id)
        and not exists (select 1 from tier_{{ t.tier }}_round_{{ round }} as m where m.event_id = c.event_id)
),
{%- endif %}
{%- endfor %}

tier_{{ t.tier }}_matches as (
    select row_id, event_id{{ row_lineage }}
    from tier_{{ t.tier }}_candidates as c
    where not exists (select 1 from tier_{{ t.tier }}_contested_rows as x where x.row_id = c.row_id)
        and not exists (select 1 from tier_{{ t.tier }}_contested_events as x where x.event_id = c.event_id)
    {%- for round in range(1, match_rounds + 1) %}
    union all
    select row_id, event_id{{ row_lineage }} from tier_{{ t.tier }}_round_{{ round }}
    {%- endfor %}
),
{%- endfor %}

{% endif %}

absorbed as (
    select play_id, event_id from spotify_absorbed
    {%- for t in tiers %}
    union all
    select row_id, event_id from tier_{{ t.tier }}_matches
    {%- endfor %}
),

-- the absorbed rows with what each leaves its event: Spotify's own from their staging rows (an absorbed
-- row is never of the first tier: extended history wins every match it is in), the other tiers' as
-- their matches carry them. Not stored: the few events that absorbed several read it again
absorbed_rows as not materialized (
    select
        x.event_id, c.play_id, c.source_tier,
        {%- for column in lineage_columns %}
        c.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from spotify_absorbed as x
    join candidates as c on c.play_id = x.play_id and c.source_tier in (2, 3)
    {%- for t in tiers %}
    union all
    select
        m.event_id, m.row_id, {{ t.tier }},
        {%- for column in lineage_columns %}
        m.row_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from tier_{{ t.tier }}_matches as m
    {%- endfor %}
),

-- extended history wins every match it is in: its rows are never absorbed, and are not looked up
winners as (
    select c.*
    from candidates as c
    where c.source_tier = 1
    union all
    select c.*
    from candidates as c
    where c.source_tier > 1{{ and_tier_present | replace('TIER', '> 1') }}
        and not exists (select 1 from absorbed as x where x.play_id = c.play_id)
),

-- most events absorbed one row: theirs is that row's values as they are; only the events that
-- absorbed several sort and aggregate them (the same values, in source tier order). An event takes at
-- most one row of each tier (the matching above), so it absorbed several when Spotify's own rules gave
-- it two, or when a tier's match found it among the rows absorbed before that tier (an empty set costs
-- nothing, instead of counting every absorbed row)
shared_events as (
    select event_id from spotify_absorbed group by event_id having count(*) > 1
    {%- for t in tiers %}
    union
    select m.event_id
    from tier_{{ t.tier }}_matches as m
    where m.event_id in (select event_id from tier_{{ t.tier }}_absorbed_before)
    {%- endfor %}
),

linked_once as (
    select
        c.event_id,
        -- its one row's names are its linked_source and linked_service below (no array per event)
        null::text[] as sources,
        null::text[] as services,
        c.content_uri,
        case when c.ms_played is not null and not c.is_ms_played_estimated then c.ms_played end as measured_ms_played,
        c.ms_played as estimated_ms_played,
        c.media_duration_ms,
        c.service in {{ sql_list(scrobble_services()) }} as has_scrobble,
        -- its one row's lineage as plain columns: a JSON array built for each of a million events, then
        -- taken apart again by every reader, cost a tenth of this model
        c.play_id as linked_play_id,
        c.service as linked_service,
        c.source as linked_source,
        c.load_id as linked_load_id,
        null::jsonb as linked_rows
    from absorbed_rows as c
    where not exists (select 1 from shared_events as s where s.event_id = c.event_id)
),

linked_several as (
    select
        c.event_id,
        array_agg(c.source) as sources,
        array_agg(c.service) as services,
        max(c.content_uri) as content_uri,
        (array_agg(c.ms_played order by c.source_tier, c.play_id)
            filter (where c.ms_played is not null and not c.is_ms_played_estimated))[1] as measured_ms_played,
        (array_agg(c.ms_played order by c.source_tier, c.play_id)
            filter (where c.ms_played is not null))[1] as estimated_ms_played,
        (array_agg(c.media_duration_ms order by c.source_tier, c.play_id)
            filter (where c.media_duration_ms is not null))[1] as media_duration_ms,
        bool_or(c.service in {{ sql_list(scrobble_services()) }}) as has_scrobble,
        null::text as linked_play_id,
        null::text as linked_service,
        null::text as linked_source,
        null::bigint as linked_load_id,
        jsonb_agg(
            jsonb_build_object('play_id', c.play_id, 'service', c.service, 'source', c.source, 'load_id', c.load_id)
            order by c.source_tier, c.play_id
        ) as linked_rows
    from absorbed_rows as c
    where c.event_id in (select event_id from shared_events)
    group by c.event_id
),

linked as (
    select * from linked_once
    union all
    select * from linked_several
),

with_sources as (
    select
        w.*,
        coalesce(w.content_uri, l.content_uri) as resolved_uri,
        -- the distinct names in order, joined by commas; most events have one or two rows, which need
        -- no array sorted
        {%- for col in ['source', 'service'] %}
        case
            when l.event_id is null then w.{{ col }}
            when l.linked_{{ col }} is not null then
                case
                    when l.linked_{{ col }} = w.{{ col }} then w.{{ col }}
                    else least(l.linked_{{ col }}, w.{{ col }}) || ',' || greatest(l.linked_{{ col }}, w.{{ col }})
                end
            else (
                select string_agg(distinct s, ',' order by s)
                from unnest(array_append(l.{{ col }}s, w.{{ col }})) as s
            )
        end as {{ col }}s,
        {%- endfor %}
        case
            when w.ms_played is not null and not w.is_ms_played_estimated then w.ms_played
            when l.measured_ms_played is not null then l.measured_ms_played
        end as measured_ms_played,
        coalesce(w.ms_played, l.estimated_ms_played, w.media_duration_ms, l.media_duration_ms, 0) as estimated_ms_played,
        w.service in {{ sql_list(scrobble_services()) }} or coalesce(l.has_scrobble, false) as has_scrobble,
        l.linked_play_id,
        l.linked_service,
        l.linked_source,
        l.linked_load_id,
        l.linked_rows
    from winners as w
    left join linked as l on l.event_id = w.play_id
),

localised as (
    select
        p.*,
        coalesce(p.measured_ms_played, p.estimated_ms_played) as best_ms_played,
        p.measured_ms_played is null as is_best_ms_played_estimated,
        coalesce(u.timezone, 'UTC') as timezone,
        coalesce(p.started_at, p.ended_at
            - coalesce(p.measured_ms_played, p.estimated_ms_played) * interval '1 millisecond') as event_started_at,
        p.ended_at at time zone coalesce(u.timezone, 'UTC') as ended_at_local
    from with_sources as p
    left join users as u on u.user_id = p.user_id
),

session_starts as (
    select
        *,
        case
            when lag(ended_at) over by_user is null then 1
            when event_started_at - lag(ended_at) over by_user
                > interval '{{ var("session_gap_minutes") }} minutes' then 1
            else 0
        end as starts_session
    from localised
    window by_user as (partition by user_id order by ended_at, play_id)
),

-- a session is named by when its first play ended: the latest session start so far, in the order
-- the starts were found in (a second window over (user, session) would sort every play again)
sessions as (
    select
        *,
        max(case when starts_session = 1 then ended_at end)
            over (partition by user_id order by ended_at, play_id) as session_ended_at,
        -- computed here, once a row, for the three keys below (an expression of a query they read
        -- straight from would be computed again for each of them)
        {{ name_key('artist_name') }} as artist_name_key
    from session_starts
),

final as (
    select
        play_id,
        user_id,
        service,
        services,
        source,
        sources,
        stamp,
        precision_ms,
        ended_at,
        ended_date,
        has_known_end,
        event_started_at as started_at,
        best_ms_played as ms_played,
        is_best_ms_played_estimated as is_ms_played_estimated,
        media_duration_ms,
        case
            when not is_best_ms_played_estimated then best_ms_played >= {{ var('counted_play_ms') }}
            when has_scrobble then true
            else best_ms_played >= {{ var('counted_play_ms') }}
        end as is_counted_play,
        coalesce(skipped, reason_end = 'fwdbtn', false) as is_skip,
        content_type,
        resolved_uri as content_uri,
        track_name,
        artist_name,
        album_name,
        isrc,
        recording_mbid,
        service_track_id,
        platform,
        platform_raw,
        conn_country,
        reason_start,
        reason_end,
        shuffle,
        skipped,
        offline,
        offline_at,
        incognito_mode,
        timezone,
        ended_at_local,
        ended_at_local::date as local_date,
        extract(hour from ended_at_local)::int as local_hour,
        extract(isodow from ended_at_local)::int as local_weekday,
        md5(user_id || '|' || extract(epoch from session_ended_at)::text) as session_id,
        {{ track_key('content_type', 'track_name', 'artist_name', 'resolved_uri', 'artist_name_key') }} as track_key,
        {{ artist_key('content_type', 'artist_name', 'artist_name_key') }} as artist_key,
        {{ album_key('content_type', 'artist_name', 'album_name', 'artist_name_key') }} as album_key,
        linked_play_id,
        linked_service,
        linked_source,
        linked_load_id,
        linked_rows,
        load_id,
        (select load_id from batch) as _batch_load_id
    from sessions
)

select * from final
{% if is_incremental() %}
where exists (
    select 1 from affected_days as a
    where a.user_id = final.user_id and a.ended_date = final.ended_date
)
{% endif %}
