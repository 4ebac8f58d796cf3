"""The columns of the shared dimensions that no listener may read: what they would tell one listener of
the others (when anyone last played the key, the newest load that touched it, which of an artist's or
an album's tracks someone played last). dbt/models/marts/catalog/*.yml declare them
(`meta.hidden_from_listeners`); the tests hold PostgreSQL and the takeout to this list."""

HIDDEN = {
    "dim_track": {"last_played_at", "_batch_load_id", "details_load_id"},
    "dim_artist": {
        "spotify_track_id",
        "spotify_album_id",
        "spotify_artist_ids",
        "last_played_at",
        "_batch_load_id",
    },
    "dim_album": {"spotify_track_id", "spotify_artist_ids", "last_played_at", "_batch_load_id"},
}
