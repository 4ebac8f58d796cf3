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
