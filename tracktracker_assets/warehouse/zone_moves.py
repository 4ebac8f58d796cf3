"""A listener's move to another time zone, taken in as a bronze load.

Silver finds a listener who moved by comparing the zone their plays were localised in with the
registry's (int_plays__deduplicated's moved users) and recomputes all their days; gold's models take
in only rows of a batch newer than their watermark. With no new play, that batch would be the old
one: so each build first gives every moved listener a new load id in bronze.registry_users, under the
bronze write lock and committed before dbt starts. Every load with a smaller id is then committed too,
and every staging model of the build reads it: the batch silver stamps (the newest load it took in,
this one included) never passes a load it has not seen.
"""

from __future__ import annotations

from typing import Any

from tracktracker_assets.warehouse.db import table_exists
from tracktracker_assets.warehouse.locks import bronze_write

SILVER_PLAYS = "silver.int_plays__deduplicated"

# three probes of silver's (user_id, timezone) index per listener (whether they have plays, the least
# and the greatest zone of those), as silver asks it: a scan of each listener's plays would cost every
# refresh time in proportion to the whole history
MOVED = f"""
select r.user_id
from bronze.registry_users as r
where exists (select 1 from {SILVER_PLAYS} as p where p.user_id = r.user_id)
    and (
        (select min(p.timezone) from {SILVER_PLAYS} as p where p.user_id = r.user_id)
            is distinct from r.timezone
        or (select max(p.timezone) from {SILVER_PLAYS} as p where p.user_id = r.user_id)
            is distinct from r.timezone
    )
order by r.user_id
"""


def take_in_zone_moves(conn: Any) -> list[str]:
    """Give each listener whose plays silver localised in another zone than theirs a new load id;
    the listeners, sorted. Commits."""
    if not table_exists(conn, SILVER_PLAYS):
        conn.rollback()
        return []
    with conn.cursor() as cur:
        cur.execute(MOVED)
        moved = [user_id for (user_id,) in cur.fetchall()]
        if moved:
            load_id = bronze_write(conn)
            cur.execute(
                "update bronze.registry_users set load_id = %s where user_id = any(%s)", (load_id, moved)
            )
    conn.commit()
    return moved
