{{
    config(
        unique_key='track_key',
        indexes=[
            {'columns': ['artist_key']},
            {'columns': ['album_key']},
            {'columns': ['spotify_track_id']},
            {'columns': ['spotify_album_id']},
        ],
    )
}}

-- depends_on: {{ ref('fct_plays') }} (the row-security policy reads it: macros/row_security.sql)
{#-
  One row per conformed track, episode or audiobook chapter. Attributes from plays are their latest
  non-null value over every play of the key (order-independent); details from the Spotify catalog
  (duration, ISRC, release date, album type, cover, all artists and their genres) where fetched.
  Genres and release date: Spotify's first, MusicBrainz's otherwise (musicbrainz_lookup names what
  was asked of it; dim_track.yml documents the precedence).
  An incremental run recomputes the keys new plays touched and those whose catalog details or
  MusicBrainz answers arrived.
-#}
{% set wm = watermark() %}

with

{% if is_incremental() %}
changed_keys as (
    select track_key from {{ ref('int_plays__deduplicated') }} where _batch_load_id > {{ wm }}
    union
    {{ keys_with_new_catalog('track_key', wm) }}
    union
    select d.track_key
    from {{ this }} as d
    join {{ ref('stg_musicbrainz__recordings') }} as mb on mb.lookup = d.musicbrainz_lookup
    where mb.load_id > {{ wm }}
),
{% endif %}

plays as (
    select p.*
    from {{ ref('int_plays__deduplicated') }} as p
    {% if is_incremental() %}
    where p.track_key in (select track_key from changed_keys)
    {% endif %}
),

from_plays as (
    select
        track_key,
        {{ latest_non_null('content_type') }} as content_type,
        coalesce({{ latest_non_null('track_name') }}, '(unknown)') as track_name,
        coalesce({{ latest_non_null('artist_name') }}, '(unknown)') as artist_name,
        {{ latest_non_null('album_name') }} as album_name,
        {{ latest_non_null('artist_key') }} as artist_key,
        coalesce({{ latest_non_null('album_key', "album_key <> " ~ unknown_key()) }}, {{ unknown_key() }})
            as album_key,
        {{ latest_non_null('content_uri') }} as spotify_track_uri,
        {{ latest_non_null('recording_mbid') }} as recording_mbid,
        {{ latest_non_null('isrc') }} as play_isrc,
        max(ended_at) as last_played_at,
        max(_batch_load_id) as plays_batch
    from plays
    group by track_key
),

keyed as (
    select *, {{ track_id('spotify_track_uri') }} as spotify_track_id from from_plays
),

with_catalog as (
    select
        k.*,
        t.album_id as spotify_album_id,
        t.artist_ids as spotify_artist_ids,
        t.duration_ms,
        t.isrc,
        t.explicit,
        coalesce(al.release_date, t.release_date) as spotify_release_date,
        coalesce(al.album_type, t.album_type) as album_type,
        coalesce(al.image_url, t.image_url) as image_url,
        {{ artist_genres('t.artist_ids') }} as spotify_genres,
        -- what MusicBrainz is asked about a track: the recording when a play named it (ListenBrainz),
        -- else its ISRC (a play's, e.g. Deezer's, or the catalog's), else artist and title
        case
            when k.content_type <> 'track' then null
            when k.recording_mbid is not null then 'mbid:' || lower(k.recording_mbid)
            when coalesce(k.play_isrc, t.isrc) is not null then 'isrc:' || upper(coalesce(k.play_isrc, t.isrc))
            when k.track_name <> '(unknown)' and k.artist_name <> '(unknown)'
                then 'search:' || lower(k.artist_name) || chr(9) || lower(k.track_name)
        end as musicbrainz_lookup,
        greatest(k.plays_batch, t.load_id, al.load_id, {{ artists_load_id('t.artist_ids') }}) as catalog_batch
    from keyed as k
    {{ catalog_joins('k') }}
),

final as (
    select
        c.track_key,
        c.content_type,
        c.track_name,
        c.artist_name,
        c.album_name,
        c.artist_key,
        c.album_key,
        c.spotify_track_uri,
        c.spotify_track_id,
        c.spotify_album_id,
        c.spotify_artist_ids,
        c.duration_ms,
        c.isrc,
        c.explicit,
        coalesce(c.spotify_release_date, mb.first_release_date) as release_date,
        c.album_type,
        c.image_url,
        coalesce(c.spotify_genres, mb.genres) as genres,
        c.last_played_at,
        coalesce(c.recording_mbid, mb.recording_mbid) as recording_mbid,
        c.musicbrainz_lookup,
        case
            when c.spotify_genres is not null then 'spotify'
            when mb.genres is not null then 'musicbrainz'
        end as genres_source,
        case
            when c.spotify_release_date is not null then 'spotify'
            when mb.first_release_date is not null then 'musicbrainz'
        end as release_date_source,
        substring(coalesce(c.spotify_release_date, mb.first_release_date) from '^[0-9]{4}')::int as release_year,
        greatest(c.catalog_batch, mb.load_id) as _batch_load_id
    from with_catalog as c
    left join {{ ref('stg_musicbrainz__recordings') }} as mb
        on mb.lookup = c.musicbrainz_lookup and mb.status = 'ok'
),

-- the load that last changed what the monthly aggregates read of a track (its genres, its release
-- year): this row's own when they are new or differ from the row it replaces, else the one it had.
-- Any new play of a track touches its row (last_played_at), so _batch_load_id cannot say this: by
-- that, each listener who ever played one of a day's tracks would have their history recomputed
with_details_load as (
    select
        f.*,
        {%- if is_incremental() %}
        case
            when old.track_key is null
                or old.genres is distinct from f.genres
                or old.release_year is distinct from f.release_year
                then f._batch_load_id
            else old.details_load_id
        end as details_load_id
    from final as f
    left join {{ this }} as old on old.track_key = f.track_key
        {%- else %}
        f._batch_load_id as details_load_id
    from final as f
        {%- endif %}
)

select * from with_details_load
