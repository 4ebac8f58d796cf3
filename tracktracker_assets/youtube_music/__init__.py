"""YouTube Music: Google Takeout watch history (JSON and HTML), music entries only."""
