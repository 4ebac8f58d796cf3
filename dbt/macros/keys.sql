{#-
  Conformed keys. A track is identified by its kind, artist and title (case and spacing ignored), not
  by URI: account data has no URIs, and the same song under two URIs (single and album) is one song
  to a listener. Content without names falls back to its URI; content without either is "unknown".
-#}
{% macro unknown_key() -%}
    md5('unknown')
{%- endmacro %}

{#- artist_name_key: the artist's name_key() when the caller has it computed already (all three keys use
    it; computed once a row, not three times) -#}
{% macro track_key(content_type, track_name, artist_name, uri, artist_name_key=none) -%}
    case
        when {{ track_name }} is null and {{ uri }} is null then {{ unknown_key() }}
        when {{ track_name }} is null then md5('uri|' || {{ uri }})
        else md5(concat_ws('|', {{ content_type }}, {{ artist_name_key or name_key(artist_name) }},
            {{ name_key(track_name) }}))
    end
{%- endmacro %}

{% macro artist_key(content_type, artist_name, artist_name_key=none) -%}
    case
        when {{ artist_name }} is null then {{ unknown_key() }}
        else md5(concat_ws('|', case {{ content_type }} when 'track' then 'artist' else {{ content_type }} end,
            {{ artist_name_key or name_key(artist_name) }}))
    end
{%- endmacro %}

{% macro album_key(content_type, artist_name, album_name, artist_name_key=none) -%}
    case
        when {{ album_name }} is null then {{ unknown_key() }}
        else md5(concat_ws('|', {{ content_type }}, {{ artist_name_key or name_key(artist_name) }},
            {{ name_key(album_name) }}))
    end
{%- endmacro %}



{#- The value of `col` on the latest play (by end time, then play id) where it is known. -#}
{% macro latest_non_null(col, condition=none) -%}
    (array_agg({{ col }} order by ended_at desc, play_id desc)
        filter (where {{ col }} is not null{% if condition %} and {{ condition }}{% endif %}))[1]
{%- endmacro %}
