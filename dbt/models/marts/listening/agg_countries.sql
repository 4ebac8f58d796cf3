{{
    config(
        unique_key='user_id',
        indexes=[{'columns': ['user_id']}],
    )
}}

-- Listening by the country Spotify saw the connection from (ISO 3166-1 alpha-2).
with

plays as (
    select * from {{ ref('fct_plays') }}
    where conn_country is not null
    {% if is_incremental() %}
        and user_id in {{ changed_users(ref('fct_plays')) }}
    {% endif %}
),

final as (
    select
        user_id,
        conn_country,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        {{ current_batch() }} as _batch_load_id
    from plays
    group by user_id, conn_country
)

select * from final
