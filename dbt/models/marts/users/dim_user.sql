with

users as (
    select * from {{ ref('stg_registry__users') }}
),

activity as (
    -- per-user index lookups on fct_plays (user_id, ended_at): cheap whatever the history
    select
        u.user_id,
        (select min(f.ended_at) from {{ ref('fct_plays') }} as f where f.user_id = u.user_id) as first_play_at,
        (select max(f.ended_at) from {{ ref('fct_plays') }} as f where f.user_id = u.user_id) as last_play_at
    from users as u
),

final as (
    select
        u.user_id,
        u.display_name,
        u.timezone,
        u.status,
        u.created_at,
        a.first_play_at,
        a.last_play_at
    from users as u
    left join activity as a on a.user_id = u.user_id
)

select * from final
