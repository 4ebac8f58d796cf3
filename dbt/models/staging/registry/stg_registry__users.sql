-- The registry's users with their time zone (validated when the user is added).
select
    user_id,
    display_name,
    timezone,
    status,
    created_at,
    load_id
from {{ source('bronze', 'registry_users') }}
