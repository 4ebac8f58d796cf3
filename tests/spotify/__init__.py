"""Tests of the fake Spotify Web API and accounts service."""
