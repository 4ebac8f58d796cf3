{{
    config(
        incremental_strategy='append',
        pre_hook="{{ delete_changed_detail_months() }}",
        indexes=[{'columns': ['user_id', 'month']}],
    )
}}

{#-
  Music listening by the decade its tracks came out, by month listened, service and source. The year is dim_track's
  release_year (Spotify's album release date, else MusicBrainz's first release); tracks without one
  are '(unknown decade)'. Recomputed by month like agg_genres: release dates arrive after plays, and
  a refresh computes again the months of new plays and those in which a track whose release year
  changed was played.
-#}

with

plays as (
    select
        f.user_id,
        date_trunc('month', f.local_date)::date as month,
        f.service,
        f.source,
        (d.release_year / 10) * 10 as decade,
        f.ms_played,
        f.is_counted_play
    from {{ ref('fct_plays') }} as f
    left join {{ ref('dim_track') }} as d on d.track_key = f.track_key
    where f.content_type = 'track'
    {% if is_incremental() %}
        and ({{ in_changed_detail_months('f.user_id', 'f.local_date') }})
    {% endif %}
),

final as (
    select
        user_id,
        month,
        service,
        source,
        decade,
        coalesce(decade || 's', '(unknown decade)') as decade_label,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        sum(ms_played)::bigint as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        greatest({{ current_batch() }}, (select max(_batch_load_id) from {{ ref('dim_track') }})) as _batch_load_id
    from plays
    group by user_id, month, service, source, decade
)

select * from final
