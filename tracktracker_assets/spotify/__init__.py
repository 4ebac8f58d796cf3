"""Spotify integration: the fake Web API and accounts service used by tests and benchmarks."""
