"""The friends room: the consent table, declared so dbt's comparison views have their lineage.

tt_security.friendships is written by `tracktracker friends` (friends/consent.py), never by a run:
an asset without a materialization, as the views read it live whenever a listener asks.
"""

from dagster import AssetSpec, Definitions

from tracktracker_assets.settings import Settings

FRIENDSHIPS = AssetSpec(
    key=["tt_security", "friendships"],
    group_name="bronze",
    description="Who invited whom to compare listening, and when it was accepted (written by the CLI).",
    kinds={"postgres"},
)


def defs(settings: Settings) -> Definitions:
    return Definitions(assets=[FRIENDSHIPS])
