-- Accepted friendships, one row per pair (invitations still waiting show nothing to anyone).
select
    inviter_id,
    invitee_id,
    invited_at,
    accepted_at
from {{ source('tt_security', 'friendships') }}
where accepted_at is not null
