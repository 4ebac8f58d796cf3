-- Last.fm scrobbles of every export format, in the conformed play columns. Last.fm stamps the start
-- of a play and knows nothing of how long it lasted.

with

source as (
    select * from {{ source('bronze', 'lastfm_scrobbles') }}
    {{ only_new_loads() }}
),

typed as (
    select
        {{ play_id('lastfm_scrobbles', 'lastfm_scrobbles') }} as play_id,
        user_id,
        scrobbled_at,
        precision_ms,
        {{ clean_text('track') }} as track_name,
        {{ clean_text('artist') }} as artist_name,
        {{ clean_text('album') }} as album_name,
        -- exporters write '' or odd case for a missing or present MBID; only a uuid is one
        case
            when track_mbid ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then lower(track_mbid)
        end as recording_mbid,
        load_id
    from source
),

-- the same scrobble twice (a file loaded twice, overlapping exports of two tools): keep the
-- earliest load, and among rows of one load that differ in nothing that identifies it, a fixed one
-- (by their own columns, compared only on a tie: a hash of every row's text cost a third of the model)
deduplicated as (
    select distinct on (play_id) *
    from typed
    {{ not_staged_yet('typed') }}
    order by play_id, load_id, scrobbled_at, precision_ms, track_name, artist_name, album_name, recording_mbid
),

final as (
    select
        play_id,
        user_id,
        'lastfm'::text as service,
        'lastfm_scrobbles'::text as source,
        scrobbled_at as stamped_at,
        'start'::text as stamp,
        precision_ms,
        scrobbled_at as started_at,
        null::timestamptz as ended_at,
        null::bigint as ms_played,
        null::bigint as media_duration_ms,
        track_name,
        artist_name,
        album_name,
        null::text as spotify_track_id,
        null::text as isrc,
        recording_mbid,
        null::text as service_track_id,
        'unknown'::text as platform,
        load_id
    from deduplicated
)

select * from final
