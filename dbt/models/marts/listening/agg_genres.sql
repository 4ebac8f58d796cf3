{{
    config(
        incremental_strategy='append',
        pre_hook="{{ delete_changed_detail_months() }}",
        indexes=[{'columns': ['user_id', 'month']}],
    )
}}

{#-
  Music listening by genre, month, service and source (so the dashboards' Service and Source filters
  apply). A track's genres are dim_track's (Spotify's, else
  MusicBrainz's); a track with several genres counts toward each, so a month's genres add up to more
  than its plays; a track without any is '(unknown genre)'. A refresh computes again the months of
  new plays and, since genres can arrive long after the plays (enrichment), each month in which a
  track whose genres changed was played (changed_detail_months); the pre-hook deletes those months
  first. A day's import so costs a month of the listener's plays, not their history.
-#}

with

plays as (
    select f.user_id, f.track_key, f.local_date, f.service, f.source, f.ms_played, f.is_counted_play
    from {{ ref('fct_plays') }} as f
    where f.content_type = 'track'
    {% if is_incremental() %}
        and ({{ in_changed_detail_months('f.user_id', 'f.local_date') }})
    {% endif %}
),

play_genres as (
    select
        p.user_id,
        date_trunc('month', p.local_date)::date as month,
        p.service,
        p.source,
        coalesce(nullif(trim(genre.name), ''), '(unknown genre)') as genre,
        p.ms_played,
        p.is_counted_play
    from plays as p
    left join {{ ref('dim_track') }} as d on d.track_key = p.track_key
    cross join lateral unnest(coalesce(string_to_array(d.genres, ', '), array[null::text])) as genre (name)
),

final as (
    select
        user_id,
        month,
        service,
        source,
        genre,
        count(*)::int as plays,
        count(*) filter (where is_counted_play)::int as counted_plays,
        sum(ms_played)::bigint as ms_played,
        round(sum(ms_played) / 60000.0, 2) as minutes_played,
        greatest({{ current_batch() }}, (select max(_batch_load_id) from {{ ref('dim_track') }})) as _batch_load_id
    from play_genres
    group by user_id, month, service, source, genre
)

select * from final
