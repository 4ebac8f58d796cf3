"""The MusicBrainz room: genres and release dates for tracks the Spotify catalog leaves without."""

from dagster import Definitions

from tracktracker_assets.musicbrainz.assets import musicbrainz_recordings
from tracktracker_assets.musicbrainz.jobs import musicbrainz_job
from tracktracker_assets.musicbrainz.resource import MusicBrainzResource
from tracktracker_assets.musicbrainz.schedules import musicbrainz_schedule


def defs() -> Definitions:
    return Definitions(
        assets=[musicbrainz_recordings],
        jobs=[musicbrainz_job],
        schedules=[musicbrainz_schedule],
        resources={"musicbrainz": MusicBrainzResource()},
    )
