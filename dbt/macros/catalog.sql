{#-
  Enrichment from the Spotify catalog. A dimension row names a representative track (its latest
  Spotify URI); the catalog's track payload leads to the album and the artists. Catalog details often
  arrive after the plays they describe: an incremental run also recomputes the keys whose catalog
  rows (track, album or artists) arrived since it last ran.
-#}
{% macro track_id(uri) -%}
    case when {{ uri }} like 'spotify:track:%' then split_part({{ uri }}, ':', 3) end
{%- endmacro %}

{#- Keys of this dimension whose catalog details arrived after `wm` (incremental runs only). -#}
{% macro keys_with_new_catalog(key, wm) -%}
    select d.{{ key }}
    from {{ this }} as d
    join {{ ref('stg_spotify__catalog') }} as c
        on (c.kind = 'track' and c.id = d.spotify_track_id)
        or (c.kind = 'album' and c.id = d.spotify_album_id)
    where c.load_id > {{ wm }}
    union
    select d.{{ key }}
    from {{ this }} as d
    cross join lateral unnest(string_to_array(d.spotify_artist_ids, ',')) as artist (id)
    join {{ ref('stg_spotify__catalog') }} as c on c.kind = 'artist' and c.id = artist.id
    where c.load_id > {{ wm }}
{%- endmacro %}

{#- Catalog columns for rows with `spotify_track_id`; joins t (track), al (album). -#}
{% macro catalog_joins(alias) -%}
    left join {{ ref('stg_spotify__catalog') }} as t
        on t.kind = 'track' and t.status = 'ok' and t.id = {{ alias }}.spotify_track_id
    left join {{ ref('stg_spotify__catalog') }} as al
        on al.kind = 'album' and al.status = 'ok' and al.id = t.album_id
{%- endmacro %}

{#- Genres of all the track's artists, and the newest catalog load among them. -#}
{% macro artist_genres(artist_ids) -%}
    (
        select string_agg(distinct genre, ', ')
        from unnest(string_to_array({{ artist_ids }}, ',')) as artist (id)
        join {{ ref('stg_spotify__catalog') }} as ar on ar.kind = 'artist' and ar.id = artist.id and ar.status = 'ok'
        cross join lateral unnest(string_to_array(ar.genres, ', ')) as genre
    )
{%- endmacro %}

{% macro artists_load_id(artist_ids) -%}
    (
        select max(ar.load_id)
        from unnest(string_to_array({{ artist_ids }}, ',')) as artist (id)
        join {{ ref('stg_spotify__catalog') }} as ar on ar.kind = 'artist' and ar.id = artist.id
    )
{%- endmacro %}
