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

{#- A case- and space-insensitive key for names, so the same song from different sources conforms. -#}
{% macro name_key(col) -%}
    lower(regexp_replace(btrim(coalesce({{ col }}, '')), '\s+', ' ', 'g'))
{%- endmacro %}
