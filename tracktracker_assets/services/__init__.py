"""Local services of the embedded mode: PostgreSQL and the MongoDB-wire registry server."""
