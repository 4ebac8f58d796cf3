"""Reading Spotify export files into bronze. Knows file formats and PostgreSQL, nothing of Dagster."""
