{#- Spotify's platform strings vary by vintage ("Android OS 12 API 31 (...)" vs "android"). -#}
{% macro normalise_platform(col) -%}
    case
        when {{ col }} is null or btrim({{ col }}) = '' then 'unknown'
        when {{ col }} ilike 'android%tv%' or {{ col }} ilike '%tv%os%' then 'tv'
        when {{ col }} ilike 'android%' then 'android'
        when {{ col }} ilike 'ios%' or {{ col }} ilike 'iphone%' or {{ col }} ilike 'ipad%' then 'ios'
        when {{ col }} ilike 'web%' or {{ col }} ilike '%web_player%' then 'web'
        when {{ col }} ilike 'windows%' then 'windows'
        when {{ col }} ilike 'os x%' or {{ col }} ilike 'osx%' or {{ col }} ilike 'mac%' then 'macos'
        when {{ col }} ilike 'linux%' then 'linux'
        when {{ col }} ilike '%cast%' or {{ col }} ilike 'partner%' or {{ col }} ilike '%speaker%'
            or {{ col }} ilike 'sonos%' then 'cast'
        when {{ col }} ilike 'ps%' or {{ col }} ilike '%playstation%' or {{ col }} ilike '%xbox%' then 'console'
        else 'other'
    end
{%- endmacro %}

{#- Trimmed text, empty string as null. -#}
{% macro clean_text(col) -%}
    nullif(btrim({{ col }}), '')
{%- endmacro %}

{#-
  A case- and space-insensitive key for names, so the same song from different sources conforms:
  trimmed, lower case, every run of white space one space. The replace runs only on a name holding
  two white-space characters in a row or one that is not a space (a cheap match; most names hold
  neither, and rewriting them is a third of a dedupe's matching cost).
-#}
{% macro name_key(col) -%}
    {%- set trimmed %}btrim(coalesce({{ col }}, '')){% endset -%}
    lower(case
        when {{ trimmed }} ~ '\s\s|(?! )\s' then regexp_replace({{ trimmed }}, '\s+', ' ', 'g')
        else {{ trimmed }}
    end)
{%- endmacro %}
