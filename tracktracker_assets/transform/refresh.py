"""dbt runs outside the regular refresh: global aggregates after an erasure."""

from __future__ import annotations

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.locking import dbt_lock
from tracktracker_assets.transform.project import ensure_manifest, run_dbt
from tracktracker_assets.warehouse.db import connect, table_exists


def rebuild_global_aggregates(settings: Settings) -> None:
    """Cross-user trends hold counts, not rows, of every user: recompute them after an erasure."""
    conn = connect(settings.database_url)
    try:
        built = table_exists(conn, "gold.fct_plays")
    finally:
        conn.close()
    if not built:
        return
    ensure_manifest(settings)
    with dbt_lock(settings):
        run_dbt(
            settings,
            [
                "run",
                "--select",
                "global_top_tracks_weekly global_top_artists_weekly user_status dim_user",
                "--full-refresh",
            ],
        )
