"""The code location: each room's definitions merged, plus the resources they share.

Nothing happens at import: Dagster (and `load()`, for the CLI's in-process runs) builds the
definitions when asked, which parses the dbt project if it changed.
"""

import functools

from dagster import Definitions, definitions

from tracktracker_assets.dashboards import definitions as dashboards
from tracktracker_assets.exports import definitions as exports
from tracktracker_assets.friends import definitions as friends
from tracktracker_assets.lastfm import definitions as lastfm
from tracktracker_assets.listenbrainz import definitions as listenbrainz
from tracktracker_assets.musicbrainz import definitions as musicbrainz
from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource
from tracktracker_assets.settings import get_settings
from tracktracker_assets.spotify import definitions as spotify
from tracktracker_assets.takeout import definitions as takeout
from tracktracker_assets.transform import definitions as transform
from tracktracker_assets.users import definitions as users


@functools.cache
def load() -> Definitions:
    """Every room's definitions, once per process."""
    settings = get_settings()
    shared = Definitions(resources={"warehouse": WarehouseResource(), "registry": RegistryResource()})
    return Definitions.merge(
        exports.defs(settings),
        spotify.defs(settings),
        lastfm.defs(settings),
        listenbrainz.defs(settings),
        musicbrainz.defs(),
        users.defs(settings),
        friends.defs(settings),
        transform.defs(settings),
        dashboards.defs(),
        takeout.defs(settings),
        shared,
    )


@definitions
def defs() -> Definitions:
    return load()
