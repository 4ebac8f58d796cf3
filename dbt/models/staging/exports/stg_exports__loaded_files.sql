-- The export files loaded (or found to hold nothing new), one row per user and file.
select
    user_id,
    sha256,
    file_name,
    format,
    records,
    inserted,
    duplicates,
    min_ts,
    max_ts,
    inserted_min_ts,
    inserted_max_ts,
    load_id,
    loaded_at
from {{ source('bronze', 'loaded_files') }}
