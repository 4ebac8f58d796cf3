"""MusicBrainz: genres (tags) and first release dates for the tracks the Spotify catalog leaves without."""
