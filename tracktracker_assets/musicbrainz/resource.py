"""The seam to MusicBrainz for Dagster: the asset asks this resource for a client (tests point the
settings at a local fake through TRACKTRACKER_MUSICBRAINZ_URL)."""

from __future__ import annotations

from dagster import ConfigurableResource

from tracktracker_assets.musicbrainz.client import MusicBrainzClient
from tracktracker_assets.settings import Settings


class MusicBrainzResource(ConfigurableResource):
    """MusicBrainz ws/2; configured entirely by TRACKTRACKER_MUSICBRAINZ_* settings."""

    def client(self, settings: Settings) -> MusicBrainzClient:
        return MusicBrainzClient(settings)
