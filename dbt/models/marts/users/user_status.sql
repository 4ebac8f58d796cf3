-- Freshness per listener: last play, last export import, last API pull (tiny; rebuilt every run).
with

users as (
    select * from {{ ref('stg_registry__users') }}
),

-- per-day totals and an index lookup per user keep this cheap however long the history
plays as (
    select
        d.user_id,
        sum(d.plays)::bigint as plays,
        (select max(f.ended_at) from {{ ref('fct_plays') }} as f where f.user_id = d.user_id) as last_play_at
    from {{ ref('agg_daily_listening') }} as d
    group by d.user_id
),

imports as (
    select user_id, max(loaded_at) as last_import_at, count(*)::int as files_imported
    from {{ ref('stg_exports__loaded_files') }}
    group by user_id
),

pulls as (
    select user_id, max(loaded_at) as last_pull_at, max(played_at) as last_pulled_play_at
    from {{ ref('stg_spotify__recently_played_items') }}
    group by user_id
),

final as (
    select
        u.user_id,
        u.display_name,
        u.timezone,
        u.status,
        coalesce(p.plays, 0) as plays,
        p.last_play_at,
        i.last_import_at,
        coalesce(i.files_imported, 0) as files_imported,
        l.last_pull_at,
        l.last_pulled_play_at,
        now() as refreshed_at
    from users as u
    left join plays as p on p.user_id = u.user_id
    left join imports as i on i.user_id = u.user_id
    left join pulls as l on l.user_id = u.user_id
)

select * from final
