"""Gold's shared dimensions: one row per track, artist or album for everyone who played it, each with
the column of gold.fct_plays that refers to it. A listener sees the rows of what they played
(PostgreSQL's policy) and not the columns that tell of other listeners (its grants:
dbt/macros/row_security.sql). Standard library only: Superset's process reads it (dashboards/mutators.py)."""

SHARED_DIMENSIONS = {"dim_track": "track_key", "dim_artist": "artist_key", "dim_album": "album_key"}
