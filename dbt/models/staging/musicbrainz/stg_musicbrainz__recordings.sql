{{
    config(
        materialized='incremental',
        unique_key='lookup',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['lookup'], 'unique': True}, {'columns': ['load_id']}],
    )
}}

-- MusicBrainz answers typed: one row per lookup, the recording it found (if any), its genres (tags)
-- and first release date. not_found rows are kept so lookups are not asked for again.
with

source as (
    select * from {{ source('bronze', 'musicbrainz_recordings') }}
    {% if is_incremental() %}
    where load_id > {{ watermark('load_id') }}
    {% endif %}
),

-- a lookup by MBID answers with the recording itself; a search (ISRC, artist and title) with a list,
-- of which the best match is taken when MusicBrainz is sure of it (score 90 or more of 100)
matched as (
    select
        lookup,
        status,
        case
            when payload ? 'recordings' then (
                select r.recording
                from jsonb_array_elements(payload -> 'recordings') with ordinality as r (recording, position)
                where coalesce((r.recording ->> 'score')::int, 0) >= 90
                order by (r.recording ->> 'score')::int desc, r.position
                limit 1
            )
            else payload
        end as recording,
        load_id,
        fetched_at
    from source
),

-- tags people gave the recording, else its first credited artist: the three most voted (a tag
-- nobody voted for, count 0, is left out), lower case. Tags are free text, mostly genres.
tagged as (
    select
        m.*,
        coalesce(
            (
                select string_agg(tag.name, ', ' order by tag.votes desc, tag.name)
                from (
                    select lower(t ->> 'name') as name, (t ->> 'count')::int as votes
                    from jsonb_array_elements(coalesce(m.recording -> 'tags', '[]'::jsonb)) as t
                    where (t ->> 'count')::int > 0
                    order by 2 desc, 1
                    limit 3
                ) as tag
            ),
            (
                select string_agg(tag.name, ', ' order by tag.votes desc, tag.name)
                from (
                    select lower(t ->> 'name') as name, (t ->> 'count')::int as votes
                    from jsonb_array_elements(
                        coalesce(m.recording -> 'artist-credit' -> 0 -> 'artist' -> 'tags', '[]'::jsonb)
                    ) as t
                    where (t ->> 'count')::int > 0
                    order by 2 desc, 1
                    limit 3
                ) as tag
            )
        ) as genres
    from matched as m
),

final as (
    select
        lookup,
        split_part(lookup, ':', 1) as lookup_kind,
        status,
        recording ->> 'id' as recording_mbid,
        recording ->> 'title' as recording_title,
        (recording ->> 'score')::int as match_score,
        genres,
        nullif(recording ->> 'first-release-date', '') as first_release_date,
        substring(recording ->> 'first-release-date' from '^[0-9]{4}')::int as release_year,
        load_id,
        fetched_at
    from tagged
)

select * from final
