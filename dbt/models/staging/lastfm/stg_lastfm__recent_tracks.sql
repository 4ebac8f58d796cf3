{#-
  Last.fm scrobbles pulled live (user.getRecentTracks), in the conformed play contract. date.uts is the
  START of the play, to the second; a scrobble says nothing of how long it played. The plain format
  names artist and album in "#text", the extended one (extended=1) the artist in "name".
-#}

with

source as (
    select
        user_id,
        scrobbled_at,
        track_key,
        item,
        load_id
    from {{ source('bronze', 'lastfm_recent_tracks') }}
    {{ only_new_loads() }}
),

typed as (
    select
        {{ play_id('lastfm_recent_tracks', 'lastfm_recent_tracks') }} as play_id,
        user_id,
        scrobbled_at,
        item ->> 'name' as track_name,
        coalesce(item -> 'artist' ->> '#text', item -> 'artist' ->> 'name') as artist_name,
        coalesce(item -> 'album' ->> '#text', item -> 'album' ->> 'name') as album_name,
        lower(nullif(btrim(item ->> 'mbid'), '')) as track_mbid,
        load_id
    from source
),

deduplicated as (
    select distinct on (play_id) *
    from typed
    {{ not_staged_yet('typed') }}
    order by play_id, load_id
),

final as (
    select
        play_id,
        user_id,
        'lastfm'::text as service,
        'lastfm_recent_tracks'::text as source,
        scrobbled_at as stamped_at,
        'start'::text as stamp,
        1000 as precision_ms,
        scrobbled_at as started_at,
        null::timestamptz as ended_at,
        null::bigint as ms_played,
        null::bigint as media_duration_ms,
        {{ clean_text('track_name') }} as track_name,
        {{ clean_text('artist_name') }} as artist_name,
        {{ clean_text('album_name') }} as album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        -- Last.fm's track mbid is a MusicBrainz recording id when it is a uuid at all
        case
            when track_mbid ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then track_mbid
        end as recording_mbid,
        null::text as service_track_id,  -- Last.fm has no id of its own for a track
        'unknown'::text as platform,
        load_id
    from deduplicated
)

select * from final
