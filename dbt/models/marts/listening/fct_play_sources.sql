{{
    config(
        unique_key=['user_id', 'ended_date'],
        pre_hook="{{ delete_absorbed_events() }}",
        indexes=[
            {'columns': ['source_play_id', 'user_id'], 'unique': True},
            {'columns': ['play_id']},
            {'columns': ['user_id', 'ended_date']},
            {'columns': ['load_id']},
            {'columns': ['_batch_load_id']},
        ],
    )
}}
{# the pre-hook: an event silver's new rows absorbed may sit on a day no new row replaces
   (macros/absorbed_rows.sql) #}
{# unique by an index dbt builds after writing the rows: a primary key constraint would be
    kept up to date row by row while they are written (five times slower for a million rows) #}

-- Grain: one staging row of any source (a play as one service recorded it), with the event of
-- fct_plays it was counted in: lineage from every event to every bronze row (source + load_id ->
-- bronze.<source> rows of that load). Replaces exactly the user-days silver recomputed, like fct_plays.
with

-- the columns it uses only. Read twice, and not stored: a second scan of silver (by its index on
-- _batch_load_id in an incremental run) costs less than writing every event into a store and reading it
-- back (a full build of 1M events and 1M absorbed rows: 2.5-2.7 s against 3.0 s)
plays as not materialized (
    select
        play_id, user_id, service, source, load_id, ended_date, _batch_load_id,
        linked_play_id, linked_service, linked_source, linked_load_id, linked_rows
    from {{ ref('int_plays__deduplicated') }}
    {% if is_incremental() %}
    where _batch_load_id > {{ watermark() }}
    {% endif %}
),

winners as (
    select
        play_id,
        play_id as source_play_id,
        user_id,
        service,
        source,
        load_id,
        true as is_winner,
        ended_date,
        _batch_load_id
    from plays
),

-- the rows each event absorbed: its one row as columns, or its several as a JSON array (also the one
-- row of an event written before silver had the columns)
absorbed as (
    select
        play_id,
        linked_play_id as source_play_id,
        user_id,
        linked_service as service,
        linked_source as source,
        linked_load_id as load_id,
        false as is_winner,
        ended_date,
        _batch_load_id
    from plays
    where linked_play_id is not null

    union all

    select
        p.play_id,
        r.row ->> 'play_id' as source_play_id,
        p.user_id,
        r.row ->> 'service' as service,
        r.row ->> 'source' as source,
        (r.row ->> 'load_id')::bigint as load_id,
        false as is_winner,
        p.ended_date,
        p._batch_load_id
    from plays as p
    cross join lateral jsonb_array_elements(p.linked_rows) as r (row)
    where p.linked_rows is not null
),

final as (
    select * from winners
    union all
    select * from absorbed
)

select * from final
