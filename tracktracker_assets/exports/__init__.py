"""Spotify data exports: inbox files -> bronze, per user."""
