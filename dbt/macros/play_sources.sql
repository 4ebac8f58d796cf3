{#-
  The staging models of the other services that hold plays, each with the conformed play columns
  (documented in models/intermediate/int_plays__conformed.yml). int_plays__conformed unions them with
  Spotify's. A service room adds its model here.
-#}
{% macro play_sources() -%}
    {{- return([
        'stg_apple_music__play_activity',
        'stg_apple_music__track_play_history',
        'stg_youtube_music__watch_history',
        'stg_deezer__listening_history',
        'stg_tidal__streaming',
        'stg_lastfm__scrobbles',
        'stg_listenbrainz__listens',
        'stg_lastfm__recent_tracks',
        'stg_listenbrainz__api_listens',
    ]) -}}
{%- endmacro %}

{#-
  Which service's record describes a play best, richest first, after Spotify's own three sources
  (extended history > account data > Web API, matched by their own rules): Apple Music and Deezer
  know how long a play lasted, ListenBrainz carries MusicBrainz ids and second precision, Tidal only
  the minute, Last.fm and YouTube Music only when a play started.
-#}
{% macro play_service_priority() -%}
    {{- return(['apple_music', 'deezer', 'listenbrainz', 'tidal', 'lastfm', 'youtube_music']) -}}
{%- endmacro %}

{#-
  The matching tiers of the other services' play models: `models` (play_sources()) ordered by their
  service's priority (the service is the model's name between `stg_` and `__`), then by their place
  in the list. Tier numbers start at 4 (Spotify's sources are 1 to 3); int_plays__conformed stamps
  each row with its model's tier and int_plays__deduplicated folds the tiers in this order. Both pass
  `play_sources()` themselves, so a unit test can override it.
-#}
{% macro play_tiers(models) -%}
    {%- set priority = play_service_priority() -%}
    {%- set ordered = [] -%}
    {%- for service in priority -%}
        {%- for model in models -%}
            {%- if model.startswith('stg_' ~ service ~ '__') -%}{%- do ordered.append(model) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for model in models -%}
        {%- if model not in ordered -%}
            {{- exceptions.raise_compiler_error("play_sources(): " ~ model ~ " is not named stg_<service>__<name> "
                ~ "with a service of play_service_priority() " ~ priority | join(', ')) -}}
        {%- endif -%}
    {%- endfor -%}
    {%- set tiers = [] -%}
    {%- for model in ordered -%}{%- do tiers.append({'model': model, 'tier': loop.index + 3}) -%}{%- endfor -%}
    {{- return(tiers) -}}
{%- endmacro %}

{#-
  Services whose records are scrobbles: a play submitted only once the listener heard half the track
  or four minutes of it, and never a track under 30 s (Last.fm's rule, which ListenBrainz asks its
  submitters to follow). A play only they saw counts although nobody measured how long it lasted.
-#}
{% macro scrobble_services() -%}
    {{- return(['lastfm', 'listenbrainz']) -}}
{%- endmacro %}
