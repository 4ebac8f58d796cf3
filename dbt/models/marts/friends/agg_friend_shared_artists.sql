{{ config(materialized='view') }}

-- The music artists in both the asking listener's and an accepted friend's all-time top (var top_n,
-- by counted plays), with who of the two played each first. Runs with its owner's rights (meta.access
-- friends): it reads the friend's figures to compare them, and shows only the asking listener's rows
-- with friends whose friendship is accepted at the moment of the query.
with

friendships as (
    select * from {{ ref('stg_friends__friendships') }}
),

artists as (
    select * from {{ ref('dim_artist') }}
    where artist_type = 'artist'
),

friends as (
    -- the registry's names, not dim_user: a table rebuilt by every refresh would drop this view
    -- with it (refreshes rebuild views only when their code changed, transform/views.py)
    select * from {{ ref('stg_registry__users') }}
),

first_plays as (
    select * from {{ ref('first_plays_by_artist') }}
    where counted_plays > 0
),

asking as (
    select {{ listener_user_id() }} as user_id
),

pairs as (
    select
        a.user_id,
        case when f.inviter_id = a.user_id then f.invitee_id else f.inviter_id end as friend_id
    from asking as a
    inner join friendships as f on a.user_id in (f.inviter_id, f.invitee_id)
),

ranked as (
    -- both sides of every pair, their music artists ranked over their whole history
    select
        p.user_id,
        p.artist_key,
        p.first_played_at,
        row_number() over (
            partition by p.user_id order by p.counted_plays desc, p.artist_key
        ) as artist_rank
    from first_plays as p
    inner join artists as a on a.artist_key = p.artist_key
    where p.user_id in (select user_id from pairs union all select friend_id from pairs)
),

shared as (
    select
        p.user_id,
        p.friend_id,
        mine.artist_key,
        mine.artist_rank as your_rank,
        theirs.artist_rank as friend_rank,
        mine.first_played_at as your_first_played_at,
        case
            when mine.first_played_at < theirs.first_played_at then 'you'
            when theirs.first_played_at < mine.first_played_at then 'friend'
            else 'both'
        end as discovered_first_by
    from pairs as p
    inner join ranked as mine on mine.user_id = p.user_id and mine.artist_rank <= {{ var('top_n') }}
    inner join ranked as theirs
        on theirs.user_id = p.friend_id
        and theirs.artist_key = mine.artist_key
        and theirs.artist_rank <= {{ var('top_n') }}
),

final as (
    select
        s.user_id,
        s.friend_id,
        u.display_name as friend_name,
        s.artist_key,
        a.artist_name,
        s.your_rank::int as your_rank,
        s.friend_rank::int as friend_rank,
        s.discovered_first_by,
        case s.discovered_first_by
            when 'you' then 'You'
            when 'friend' then u.display_name
            else 'Both at once'
        end as discovered_first,
        s.your_first_played_at
    from shared as s
    inner join artists as a on a.artist_key = s.artist_key
    inner join friends as u on u.user_id = s.friend_id
)

select * from final
