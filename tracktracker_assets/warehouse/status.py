"""Questions about the warehouse's state that sensors, checks and `status` ask."""

from __future__ import annotations

from typing import Any

from tracktracker_assets.warehouse.db import table_exists


def newest_bronze_load_id(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "select greatest("
            "(select coalesce(max(load_id), 0) from bronze.loaded_files), "
            "(select coalesce(max(load_id), 0) from bronze.spotify_recently_played))"
        )
        return int(cur.fetchone()[0])


def silver_watermark(conn: Any) -> int | None:
    if not table_exists(conn, "silver.plays"):
        return None
    with conn.cursor() as cur:
        cur.execute("select coalesce(max(_batch_load_id), 0) from silver.plays")
        return int(cur.fetchone()[0])


def pending_bronze_load_id(conn: Any) -> int | None:
    """The newest bronze load silver has not seen yet, or None when silver is current."""
    newest = newest_bronze_load_id(conn)
    watermark = silver_watermark(conn)
    conn.rollback()
    if newest == 0 and watermark is not None:
        return None
    if watermark is None or newest > watermark:
        return newest
    return None
