"""The short per-user summary printed after the demo and by `status`."""

from __future__ import annotations

from rich.console import Console

from tracktracker_assets.settings import Settings
from tracktracker_assets.warehouse.db import connect, table_exists

SUMMARY_SQL = """
select
    u.user_id,
    u.display_name,
    u.timezone,
    count(f.play_id) as plays,
    round(coalesce(sum(f.ms_played), 0) / 3600000.0, 1) as hours,
    min(f.local_date) as first_day,
    max(f.local_date) as last_day,
    (select string_agg(t.artist_name, ', ' order by t.rank)
       from gold.agg_top_artists t
      where t.user_id = u.user_id and t.period = 'all' and t.rank <= 3) as top_artists
from gold.dim_user u
left join gold.fct_plays f on f.user_id = u.user_id
where u.user_id = any(%s)
group by u.user_id, u.display_name, u.timezone
order by u.user_id
"""


def print_summary(settings: Settings, console: Console, user_ids: list[str] | None = None) -> None:
    from tracktracker_assets.cli.output import print_table

    conn = connect(settings.database_url)
    try:
        if not table_exists(conn, "gold.fct_plays"):
            console.print("Gold is not built yet: import an export first.")
            return
        with conn.cursor() as cur:
            if user_ids is None:
                cur.execute("select user_id from gold.dim_user")
                user_ids = [r[0] for r in cur.fetchall()]
            cur.execute(SUMMARY_SQL, (user_ids,))
            rows = cur.fetchall()
    finally:
        conn.close()
    print_table(
        "Listening per user",
        ["user", "name", "time zone", "plays", "hours", "from", "to", "top artists"],
        [list(r) for r in rows],
    )
