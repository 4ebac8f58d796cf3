"""Spotify's data exports, from a listener's inbox to bronze.

The format side (formats, jsonarray, sources, loader, inbox, retention, uploads, errors) knows files
and PostgreSQL and nothing of Dagster; assets, jobs and sensors put it on the orchestrator.
"""
