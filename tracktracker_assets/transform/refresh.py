"""dbt runs outside the regular refresh: what holds every listener's data, rebuilt after an erasure."""

from __future__ import annotations

from tracktracker_assets.settings import Settings
from tracktracker_assets.transform.project import ensure_manifest, run_dbt
from tracktracker_assets.warehouse.db import connect, table_exists
from tracktracker_assets.warehouse.locks import dbt_lock

# Tables without a user_id whose rows an erased listener may have shaped: the weekly counts across
# listeners, and the shared dimensions (a track's latest name and last play, one only they played).
# Rebuilding them replaces the tables, which drops the views on them: the views are rebuilt too.
SHARED_MODELS = "global_rank_weekly dim_track dim_artist dim_album config.materialized:view"


def rebuild_shared_models(settings: Settings) -> None:
    """Recompute the shared models from what is left (after an erasure)."""
    conn = connect(settings.database_url)
    try:
        built = table_exists(conn, "gold.fct_plays")
    finally:
        conn.close()
    if not built:
        return
    ensure_manifest(settings)
    with dbt_lock(settings):
        run_dbt(settings, ["run", "--select", SHARED_MODELS, "--full-refresh"])
