-- ListenBrainz listens of the user exports, in the conformed play columns. A listen's listened_at is
-- the start of the play as its submitter gave it, except for listens ListenBrainz's own Spotify
-- importers made: the live reader (submission_client 'listenbrainz'; before 2022 it wrote only
-- listening_from 'spotify' with Spotify ids) takes Spotify's played_at, the archive importer
-- ('ListenBrainz Archive Importer', which adds ms_played) the history's ts: both Spotify's END.

with

source as (
    select * from {{ source('bronze', 'listenbrainz_listens') }}
    {{ only_new_loads() }}
),

typed as (
    select
        {{ play_id('listenbrainz_listens', 'listenbrainz_listens') }} as play_id,
        user_id,
        listened_at,
        coalesce(
            (
                music_service = 'spotify.com'
                and (
                    submission_client = 'listenbrainz'
                    or (submission_client = 'ListenBrainz Archive Importer' and ms_played is not null)
                )
            )
            or (
                listening_from = 'spotify'
                and music_service is null
                and submission_client is null
                and spotify_track_id is not null
            ),
            false
        ) as is_stamped_at_end,
        ms_played,
        duration_ms as media_duration_ms,
        {{ clean_text('track_name') }} as track_name,
        {{ clean_text('artist_name') }} as artist_name,
        {{ clean_text('release_name') }} as album_name,
        case when spotify_track_id ~ '^[0-9A-Za-z]{22}$' then spotify_track_id end as spotify_track_id,
        nullif(upper(replace(btrim(isrc), '-', '')), '') as isrc,
        case
            when recording_mbid ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then lower(recording_mbid)
        end as recording_mbid,
        recording_msid as service_track_id,
        load_id
    from source
),

-- the same listen in two exports (or one loaded twice): keep the earliest load, and among rows of one
-- load that differ only in details, a fixed one: the first by every column of typed in turn (plain
-- columns: a sort compares them only when rows tie)
deduplicated as (
    select distinct on (play_id) *
    from typed
    {{ not_staged_yet('typed') }}
    order by play_id, load_id, user_id, listened_at, is_stamped_at_end, ms_played, media_duration_ms,
        track_name, artist_name, album_name, spotify_track_id, isrc, recording_mbid, service_track_id
),

final as (
    select
        play_id,
        user_id,
        'listenbrainz'::text as service,
        'listenbrainz_listens'::text as source,
        listened_at as stamped_at,
        case when is_stamped_at_end then 'end' else 'start' end as stamp,
        1000 as precision_ms,
        case
            when not is_stamped_at_end then listened_at
            when ms_played is not null then listened_at - ms_played * interval '1 millisecond'
        end as started_at,
        case when is_stamped_at_end then listened_at end as ended_at,
        ms_played,
        media_duration_ms,
        track_name,
        artist_name,
        album_name,
        spotify_track_id,
        isrc,
        recording_mbid,
        service_track_id,
        'unknown'::text as platform,
        load_id
    from deduplicated
)

select * from final
