"""ListenBrainz: the user export (ZIP of JSON lines, older JSON array) and the live listens pull."""
