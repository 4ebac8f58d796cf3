{#-
  ListenBrainz listens pulled live (GET /1/user/{name}/listens), in the conformed play contract.
  listened_at is what the submitting client said: clients submit when a track starts (or at the
  scrobble point, counted as the start), but ListenBrainz's own Spotify importer copies Spotify's
  played_at, the END of the play. Its listens are recognised by what it writes in additional_info:
  since 2023 submission_client 'listenbrainz' with music_service 'spotify.com'; before, listening_from
  'spotify' with the spotify_album_artist_ids only it fills in.
-#}

with

source as (
    select
        user_id,
        listened_at,
        listen_key,
        item,
        load_id
    from {{ source('bronze', 'listenbrainz_api_listens') }}
    {{ only_new_loads() }}
),

fields as (
    select
        {{ play_id('listenbrainz_api_listens', 'listenbrainz_api_listens') }} as play_id,
        user_id,
        listened_at,
        item -> 'track_metadata' as meta,
        coalesce(item -> 'track_metadata' -> 'additional_info', '{}'::jsonb) as info,
        coalesce(item ->> 'recording_msid', item -> 'track_metadata' ->> 'recording_msid') as recording_msid,
        load_id
    from source
),

typed as (
    select
        play_id,
        user_id,
        listened_at,
        meta ->> 'track_name' as track_name,
        meta ->> 'artist_name' as artist_name,
        meta ->> 'release_name' as album_name,
        case
            when info ->> 'duration_ms' ~ '^\d+$' then (info ->> 'duration_ms')::bigint
            when info ->> 'duration' ~ '^\d+$' then (info ->> 'duration')::bigint * 1000
        end as media_duration_ms,
        substring(info ->> 'spotify_id' from '(?:open\.spotify\.com/track/|spotify:track:)([A-Za-z0-9]{22})')
            as spotify_track_id,
        upper(replace(nullif(btrim(info ->> 'isrc'), ''), '-', '')) as isrc,
        lower(coalesce(
            nullif(btrim(info ->> 'recording_mbid'), ''),
            nullif(btrim(meta -> 'mbid_mapping' ->> 'recording_mbid'), '')
        )) as recording_mbid,
        recording_msid,
        (
            (info ->> 'submission_client' = 'listenbrainz' and info ->> 'music_service' = 'spotify.com')
            or (info ->> 'listening_from' = 'spotify' and info ? 'spotify_album_artist_ids')
        ) as is_spotify_import,
        load_id
    from fields
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
        'listenbrainz'::text as service,
        'listenbrainz_api_listens'::text as source,
        listened_at as stamped_at,
        case when is_spotify_import then 'end' else 'start' end as stamp,
        1000 as precision_ms,
        case when not is_spotify_import then listened_at end as started_at,
        case when is_spotify_import then listened_at end as ended_at,
        null::bigint as ms_played,
        media_duration_ms,
        {{ clean_text('track_name') }} as track_name,
        {{ clean_text('artist_name') }} as artist_name,
        {{ clean_text('album_name') }} as album_name,
        spotify_track_id,
        case when isrc ~ '^[A-Z0-9]{12}$' then isrc end as isrc,
        case
            when recording_mbid ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then recording_mbid
        end as recording_mbid,
        recording_msid as service_track_id,
        'unknown'::text as platform,
        load_id
    from deduplicated
)

select * from final
