{#-
  The staging models of the other services that hold plays, each with the conformed play columns
  (documented in models/intermediate/int_plays__conformed.yml). int_plays__conformed unions them with
  Spotify's. A service room adds its model here.
-#}
{% macro play_sources() -%}
    {{- return([
        'stg_lastfm__scrobbles',
        'stg_listenbrainz__listens',
    ]) -}}
{%- endmacro %}
