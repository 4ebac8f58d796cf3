{{ config(indexes=[{'columns': ['user_id'], 'unique': True}]) }}

with

users as (
    select * from {{ ref('users') }}
),

activity as (
    select
        user_id,
        min(ended_at) as first_play_at,
        max(ended_at) as last_play_at
    from {{ ref('plays') }}
    group by user_id
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
