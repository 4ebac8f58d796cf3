"""Deezer: the GDPR export's listening history sheet (deezer-data_*.xlsx)."""
