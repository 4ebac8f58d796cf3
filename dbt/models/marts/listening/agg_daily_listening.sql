{{
    config(
        unique_key=['user_id', 'local_date'],
        pre_hook="{{ delete_changed_local_days(ref('fct_plays')) }}",
        indexes=[{'columns': ['user_id', 'local_date'], 'unique': True}, {'columns': ['local_date']}],
    )
}}

-- Listening per user and local day; recomputes only the local days that received new facts and two days
-- either side (changed_local_days), deleted first so that a day left with no play loses its row.
with

{% if is_incremental() %}
changed_days as (
    {{ changed_local_days(ref('fct_plays')) }}
),
{% endif %}

plays as (
    select f.*
    from {{ ref('fct_plays') }} as f
    {% if is_incremental() %}
    join changed_days as c on c.user_id = f.user_id and c.local_date = f.local_date
    {% endif %}
),

final as (
    select
        user_id,
        local_date,
        min(date_key) as date_key,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        count(*) filter (where is_skip)::int as skips,
        sum(ms_played)::bigint as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        count(distinct track_key) filter (where content_type <> 'unknown')::int as distinct_tracks,
        count(distinct artist_key) filter (where content_type <> 'unknown')::int as distinct_artists,
        count(distinct session_id)::int as sessions,
        max(_batch_load_id) as _batch_load_id
    from plays
    group by user_id, local_date
)

select * from final
