"""Users: the registry (MongoDB) mirrored into bronze and into the `users` partitions."""
