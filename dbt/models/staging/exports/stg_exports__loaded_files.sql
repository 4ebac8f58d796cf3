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
    -- null for a file loaded before bronze recorded them: its records' span is the best known
    coalesce(inserted_min_ts, min_ts) as inserted_min_ts,
    coalesce(inserted_max_ts, max_ts) as inserted_max_ts,
    load_id,
    loaded_at
from {{ source('bronze', 'loaded_files') }}
