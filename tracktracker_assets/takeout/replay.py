"""A listener's history written back in the services' own file formats, from bronze.

Bronze keeps every record as received (typed columns plus `extra` for keys it has no column for), and
files themselves are kept only for a while (exports/retention.py), so a takeout rebuilds the files
from bronze: importing them loads the same bronze rows again. Spotify's extended history and account
data are written as Spotify writes them (JSON arrays with Spotify's keys; the privacy fields were
never stored). The other services' rows are in the takeout's bronze/ tables (archive.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from psycopg2 import sql

from tracktracker_assets.exports.formats import ACCOUNT, EXTENDED, Format

RECORDS_PER_FILE = 100_000
# file names as Spotify's vintages name them (import recognises files by their keys, not names)
FILE_NAMES = {
    EXTENDED.name: "Streaming_History_Audio_{n}.json",
    ACCOUNT.name: "StreamingHistory_music_{n}.json",
}
_encode = msgspec.json.Encoder().encode


def spotify_files(conn: Any, user_id: str) -> Iterator[tuple[str, Iterator[bytes]]]:
    """(file name, its bytes in pieces) for each file of the listener's Spotify history."""
    for fmt in (EXTENDED, ACCOUNT):
        records = _records(conn, user_id, fmt)
        first = next(records, None)
        n = 0
        while first is not None:
            yield FILE_NAMES[fmt.name].format(n=n), _array(first, records)
            first = next(records, None)
            n += 1


def _array(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """One file: `first` and up to RECORDS_PER_FILE - 1 more records of `rest`, as a JSON array."""
    yield b"[\n" + _encode(first)
    for _, record in zip(range(RECORDS_PER_FILE - 1), rest, strict=False):
        yield b",\n" + _encode(record)
    yield b"\n]\n"


def _records(conn: Any, user_id: str, fmt: Format) -> Iterator[dict[str, Any]]:
    """The listener's records of one format in time order, with the keys Spotify writes."""
    columns = list(fmt.columns.items())  # record key -> bronze column
    query = sql.SQL("select extra, {} from {} where user_id = %s order by {}, load_id").format(
        sql.SQL(", ").join(sql.Identifier(column) for _, column in columns),
        sql.SQL(fmt.table),
        sql.Identifier(fmt.columns[fmt.time_field]),
    )
    with conn.cursor(name=f"replay_{fmt.name}") as cur:
        cur.itersize = 10_000
        cur.execute(query, (user_id,))
        for extra, *values in cur:
            record: dict[str, Any] = dict(extra or {})
            for (key, _), value in zip(columns, values, strict=True):
                record[key] = _time(value, fmt) if key == fmt.time_field else value
            yield record


def _time(moment: datetime, fmt: Format) -> str:
    moment = moment.astimezone(UTC)
    if fmt is ACCOUNT:  # "2023-10-02 23:43", UTC
        return moment.strftime("%Y-%m-%d %H:%M" if moment.second == 0 else "%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
