"""Tidal: the GDPR export's streaming.csv."""
