"""Local stand-ins for services the tests cannot reach (Spotify), answering with the real shapes."""
