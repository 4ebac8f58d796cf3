"""Traces of a listener outside the warehouse, found and removed for an erasure.

A listener is named by their user id and display name. Where they appear:

- Dagster's database: runs for their partition (tags, event logs, compute logs), events of other runs
  that name them (a multi-user load's results, the registry mirror's preview, dbt messages), the
  cached state of asset keys, partitions, sensor ticks, backfills.
- Log files: the daemon's, the webserver's, PostgreSQL's, dbt's and Dagster's compute logs.
- dbt's artefacts: per-invocation target directories hold compiled SQL with user ids as literals.
- Paths named after them (inbox, archive, rejected, uploads, their Superset password).

A name matches as a whole word (not inside `demo-ana` for `ana`), case-insensitively, also as JSON
escapes it (Dagster stores events as ASCII JSON). Matching errs on the side of removing: a short or
common name also removes lines and events that merely contain the same word.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg2 import sql

from tracktracker_assets.settings import Settings

WORD = r"[\w-]"  # characters that continue a user id: `ana` does not match inside `demo-ana`
MIN_NAME_CHARS = 3  # shorter display names are only matched through the user id
REDACTED = b"[line removed by an erasure]\n"
# binary database storage, checked through the servers instead; secrets are never rewritten
NOT_SCANNED = ("postgres", "mongo", "secrets")


@dataclass(frozen=True)
class Identity:
    user_id: str
    display_name: str | None = None

    def names(self) -> list[str]:
        names = [self.user_id]
        if self.display_name and len(self.display_name) >= MIN_NAME_CHARS:
            names.append(self.display_name)
        spelled = []
        for name in dict.fromkeys(names):
            spelled.append(name)
            escaped = json.dumps(name)[1:-1]  # "Nguyễn" as Dagster's ASCII JSON holds it
            if escaped != name:
                spelled.append(escaped)
        return list(dict.fromkeys(spelled))

    def pattern(self) -> re.Pattern[bytes]:
        alternatives = "|".join(re.escape(n) for n in sorted(self.names(), key=len, reverse=True))
        return re.compile(f"(?<!{WORD})(?:{alternatives})(?!{WORD})".encode(), re.IGNORECASE)

    def pg_pattern(self) -> str:
        """The same match as a PostgreSQL regular expression (use with ~*)."""
        alternatives = "|".join(re.escape(n) for n in sorted(self.names(), key=len, reverse=True))
        return f"(^|[^[:alnum:]_-])({alternatives})([^[:alnum:]_-]|$)"

    def found_in(self, data: bytes) -> bool:
        return self.pattern().search(data) is not None


# ---- files ----------------------------------------------------------------------------------------
def _walk(root: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    if not root.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            yield here / name


def paths_named_after(root: Path, user_id: str, skip: tuple[str, ...] = ("postgres", "mongo")) -> list[Path]:
    """Files and directories under root whose own name is the user id (their inbox, archive, ...)."""
    found = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in [*dirnames, *filenames]:
            if name == user_id:
                found.append(here / name)
        dirnames[:] = [d for d in dirnames if d != user_id]
    return found


def remove_paths(paths: list[Path]) -> int:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=False)
        else:
            path.unlink(missing_ok=True)
    return len(paths)


def redact_file(path: Path, identity: Identity) -> int:
    """Replace every line naming the user; returns lines replaced. Rewrites in place, so a process
    appending to the file (a running daemon) keeps writing to the same file."""
    pattern = identity.pattern()
    data = path.read_bytes()
    if pattern.search(data) is None:
        return 0
    lines = data.splitlines(keepends=True)
    kept, removed = [], 0
    for line in lines:
        if pattern.search(line):
            kept.append(REDACTED)
            removed += 1
        else:
            kept.append(line)
    with open(path, "r+b") as handle:
        handle.seek(len(data))
        appended = handle.read()  # written since we read it
        extra = b"".join(REDACTED if pattern.search(line) else line for line in appended.splitlines(True))
        handle.seek(0)
        handle.write(b"".join(kept) + extra)
        handle.truncate()
    return removed


def files_naming(root: Path, identity: Identity, skip: tuple[str, ...] = ()) -> list[Path]:
    pattern = identity.pattern()
    found = []
    for path in _walk(root, skip):
        try:
            if path.is_file() and not path.is_symlink() and pattern.search(path.read_bytes()):
                found.append(path)
        except OSError:
            continue
    return found


def redact_logs(settings: Settings, identity: Identity) -> dict[str, int]:
    """Lines naming the user removed from every log under TRACKTRACKER_HOME (services' logs and
    Dagster's compute logs); per file, lines removed."""
    removed = {}
    for root in (settings.log_dir, settings.dagster_home):
        for path in files_naming(root, identity):
            if path.name == "dagster.yaml":
                continue
            count = redact_file(path, identity)
            if count:
                removed[str(path)] = count
    return removed


def purge_dbt_artefacts(target: Path, identity: Identity) -> list[str]:
    """dbt's target directory holds compiled SQL (and logs) with user ids as literals: remove each
    per-invocation directory that names the user, and any such file at the top (dbt writes them
    again when needed; the caller parses the project again if the manifest went)."""
    removed = []
    for path in files_naming(target, identity):
        if not path.exists():
            continue
        relative = path.relative_to(target)
        top = target / relative.parts[0]
        if len(relative.parts) > 1 and top.is_dir() and top.name not in ("compiled", "run"):
            shutil.rmtree(top, ignore_errors=True)
            removed.append(str(top))
        elif path.suffix == ".log":
            redact_file(path, identity)
            removed.append(str(path))
        else:
            path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed


# ---- Dagster's database -----------------------------------------------------------------------------
# table -> text columns that may name a listener, for tables whose matching rows are simply deleted
DELETABLE = {
    "job_ticks": ["tick_body"],
    "instigators": ["instigator_body"],
    "jobs": ["job_body"],
    "bulk_actions": ["body"],
    "backfill_tags": ["value"],
    "kvs": ["key", "value"],
    "asset_daemon_asset_evaluations": ["asset_evaluation_body"],
    "daemon_heartbeats": ["body"],
}
# holding no listener data (or binary snapshots of code): not scanned
UNSCANNED_TABLES = {
    "alembic_version",
    "secondary_indexes",
    "instance_info",
    "snapshots",
    "concurrency_limits",
}


def _text_columns(cur: Any, table: str) -> list[str]:
    cur.execute(
        "select column_name from information_schema.columns where table_schema = 'public' "
        "and table_name = %s and data_type in ('text', 'character varying')",
        (table,),
    )
    return [r[0] for r in cur.fetchall()]


def _matching(cur: Any, table: str, columns: list[str], regex: str, select: str = "id") -> list[Any]:
    if not columns:
        return []
    where = sql.SQL(" or ").join(sql.SQL("{} ~* %(re)s").format(sql.Identifier(c)) for c in columns)
    cur.execute(
        sql.SQL("select {} from {} where {}").format(sql.SQL(select), sql.Identifier(table), where),
        {"re": regex},
    )
    return [r[0] for r in cur.fetchall()]


def runs_concerning(conn: Any, identity: Identity) -> list[str]:
    """Runs of the user's partition, or whose tags or body name them."""
    regex = identity.pg_pattern()
    with conn.cursor() as cur:
        cur.execute(
            "select run_id from runs where partition = %(user)s or run_body ~* %(re)s "
            "union select run_id from run_tags where value ~* %(re)s",
            {"user": identity.user_id, "re": regex},
        )
        found = sorted({r[0] for r in cur.fetchall()})
    conn.rollback()
    return found


def purge_dagster(instance: Any, conn: Any, identity: Identity) -> dict[str, int]:
    """Remove the user from Dagster's database (conn: to the instance's database). Counts per kind.

    Their runs are deleted whole (with tags, events and compute logs); other runs lose the events
    that name them; asset keys whose cached state named them fall back to their latest remaining
    materialization. A run still in flight is left alone and reported (the erasure resumes later).
    """
    from dagster import DagsterRunStatus

    counts: dict[str, int] = {}
    regex = identity.pg_pattern()
    run_ids = runs_concerning(conn, identity)
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in (
            DagsterRunStatus.STARTED,
            DagsterRunStatus.STARTING,
            DagsterRunStatus.CANCELING,
        ):
            raise RuntimeError(
                f"Run {run_id[:8]} ({run.job_name}) for {identity.user_id!r} is still in flight; the "
                "erasure waits for it. Run `tracktracker users remove` again once it has finished."
            )
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    counts["runs"] = len(run_ids)
    with conn.cursor() as cur:
        cur.execute(
            "select id from event_logs where partition = %(user)s or event ~* %(re)s",
            {"user": identity.user_id, "re": regex},
        )
        event_ids = [r[0] for r in cur.fetchall()]
        if event_ids:
            cur.execute("delete from asset_event_tags where event_id = any(%s)", (event_ids,))
            cur.execute("delete from event_logs where id = any(%s)", (event_ids,))
        cur.execute("delete from asset_event_tags where value ~* %(re)s", {"re": regex})
        cur.execute(
            "delete from asset_check_executions where partition = %(user)s "
            "or evaluation_event ~* %(re)s or evaluation_event_storage_id = any(%(ids)s) "
            "or materialization_event_storage_id = any(%(ids)s)",
            {"user": identity.user_id, "re": regex, "ids": event_ids},
        )
        counts["events"] = len(event_ids)
        counts["asset keys"] = _reset_asset_keys(cur, regex)
        cur.execute(
            "delete from dynamic_partitions where partition = %(user)s or partition ~* %(re)s",
            {"user": identity.user_id, "re": regex},
        )
        for table, columns in DELETABLE.items():
            ids = _matching(cur, table, columns, regex)
            if ids:
                cur.execute(
                    sql.SQL("delete from {} where id = any(%s)").format(sql.Identifier(table)), (ids,)
                )
                counts[table] = len(ids)
    conn.commit()
    return counts


def _reset_asset_keys(cur: Any, regex: str) -> int:
    cur.execute(
        "select asset_key from asset_keys where last_materialization ~* %(re)s "
        "or cached_status_data ~* %(re)s or asset_details ~* %(re)s or tags ~* %(re)s",
        {"re": regex},
    )
    keys = [r[0] for r in cur.fetchall()]
    for key in keys:
        cur.execute(
            "select event, run_id, timestamp from event_logs where asset_key = %s "
            "and dagster_event_type = 'ASSET_MATERIALIZATION' order by id desc limit 1",
            (key,),
        )
        latest = cur.fetchone()
        cur.execute(
            "update asset_keys set cached_status_data = null, last_materialization = %s, last_run_id = %s, "
            "last_materialization_timestamp = %s, "
            "asset_details = case when asset_details ~* %s then null else asset_details end, "
            "tags = case when tags ~* %s then null else tags end "
            "where asset_key = %s",
            (*(latest or (None, None, None)), regex, regex, key),
        )
    return len(keys)


def dagster_leftovers(conn: Any, identity: Identity) -> dict[str, int]:
    """Rows of Dagster's database still naming the user, per table (for checks and tests)."""
    regex = identity.pg_pattern()
    found = {}
    with conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'public'")
        for (table,) in cur.fetchall():
            if table in UNSCANNED_TABLES:
                continue
            columns = _text_columns(cur, table)
            rows = _matching(cur, table, columns, regex, select="1")
            if rows:
                found[table] = len(rows)
    conn.rollback()
    return found
