{{ config(materialized='view') }}

-- One row per accepted friend of the asking listener: how alike their listening is, how many top
-- artists they share and who discovered more of those first; one row saying so when no friend has
-- accepted yet. Runs with its owner's rights (meta.access friends), like agg_friend_shared_artists.
--
-- Affinity: the cosine similarity of the two listeners' music-artist play shares over their whole
-- histories (counted plays per artist), as 0-100. 100: the same artists in the same proportions;
-- 0: no artist in common. Heavy rotation weighs most, so two listeners who share their favourites
-- score high even when their long tails differ.
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

shared_top_artists as (
    select * from {{ ref('agg_friend_shared_artists') }}
),

asking as (
    select {{ listener_user_id() }} as user_id
),

pairs as (
    select
        a.user_id,
        case when f.inviter_id = a.user_id then f.invitee_id else f.inviter_id end as friend_id,
        f.accepted_at
    from asking as a
    inner join friendships as f on a.user_id in (f.inviter_id, f.invitee_id)
),

listened as (
    select
        p.user_id,
        p.artist_key,
        p.counted_plays::numeric as counted_plays
    from first_plays as p
    inner join artists as a on a.artist_key = p.artist_key
    where p.user_id in (select user_id from pairs union all select friend_id from pairs)
),

norms as (
    select
        user_id,
        sqrt(sum(counted_plays * counted_plays)) as norm
    from listened
    group by user_id
),

overlap as (
    select
        p.user_id,
        p.friend_id,
        count(*) as shared_artists,
        sum(mine.counted_plays * theirs.counted_plays) as dot_product
    from pairs as p
    inner join listened as mine on mine.user_id = p.user_id
    inner join listened as theirs on theirs.user_id = p.friend_id and theirs.artist_key = mine.artist_key
    group by p.user_id, p.friend_id
),

top_overlap as (
    select
        user_id,
        friend_id,
        count(*) as shared_top_artists,
        count(*) filter (where discovered_first_by = 'you') as discovered_first_by_you,
        count(*) filter (where discovered_first_by = 'friend') as discovered_first_by_friend
    from shared_top_artists
    group by user_id, friend_id
),

compared as (
    select
        p.user_id,
        p.friend_id,
        u.display_name as friend_name,
        coalesce(round(100 * o.dot_product / nullif(mine.norm * theirs.norm, 0)), 0)::int as affinity,
        coalesce(o.shared_artists, 0)::int as shared_artists,
        coalesce(t.shared_top_artists, 0)::int as shared_top_artists,
        coalesce(t.discovered_first_by_you, 0)::int as discovered_first_by_you,
        coalesce(t.discovered_first_by_friend, 0)::int as discovered_first_by_friend,
        p.accepted_at as friends_since
    from pairs as p
    inner join friends as u on u.user_id = p.friend_id
    left join overlap as o on o.user_id = p.user_id and o.friend_id = p.friend_id
    left join top_overlap as t on t.user_id = p.user_id and t.friend_id = p.friend_id
    left join norms as mine on mine.user_id = p.user_id
    left join norms as theirs on theirs.user_id = p.friend_id
),

no_friend_yet as (
    -- the dashboard says so rather than showing an empty table
    select
        a.user_id,
        null::text as friend_id,
        'No friend has accepted yet' as friend_name,
        null::int as affinity,
        null::int as shared_artists,
        null::int as shared_top_artists,
        null::int as discovered_first_by_you,
        null::int as discovered_first_by_friend,
        null::timestamptz as friends_since
    from asking as a
    where a.user_id is not null and not exists (select from compared)
),

final as (
    select * from compared
    union all
    select * from no_friend_yet
)

select * from final
