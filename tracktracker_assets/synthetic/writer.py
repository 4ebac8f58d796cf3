"""Writing exports: one user's plays streamed into files named and split like Spotify's."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path

from tracktracker_assets.synthetic._rand import _mix
from tracktracker_assets.synthetic._time import _to_ms
from tracktracker_assets.synthetic.extras import _write_zip_extras
from tracktracker_assets.synthetic.files import _ENCODE, Namer, _FileStream, _Sink
from tracktracker_assets.synthetic.listeners import UserProfile
from tracktracker_assets.synthetic.plays import Play, iter_plays
from tracktracker_assets.synthetic.vintages import (
    ACCOUNT_FORMATS,
    ALL_FORMATS,
    VINTAGES,
    Vintage,
    play_to_account,
    play_to_extended,
)

DEFAULT_MAX_BYTES = 12_000_000  # real history files are split at about 12 MB
ACCOUNT_MAX_RECORDS = 10_000


def _years(y0: int, y1: int) -> str:
    return str(y0) if y0 == y1 else f"{y0}-{y1}"


def _extended_namer(v: Vintage, video: bool) -> Namer:
    kind = "Video" if video else "Audio"

    def name(index: int, y0: int, y1: int, single: bool) -> str:
        if v.naming == "endsong":
            stem = "endvideo" if video else "endsong"
            return f"{stem}.json" if single else f"{stem}_{index}.json"
        suffix = "" if single else f"_{index}"
        return f"Streaming_History_{kind}_{_years(y0, y1)}{suffix}.json"

    return name


def _reorderer(kind: str, seed: int) -> Callable[[list[bytes], int], None]:
    """Real files are not strictly sorted: endsong files are shuffled in blocks, newer ones nearly sorted."""
    rate = random.Random(seed).choice((0.0, 0.0, 0.002, 0.006))

    def reorder(rows: list[bytes], file_no: int) -> None:
        rng = random.Random(_mix(seed, file_no))
        if kind == "blocks":
            blocks, i = [], 0
            while i < len(rows):
                n = rng.randint(1, 40)
                blocks.append(rows[i : i + n])
                i += n
            rng.shuffle(blocks)
            rows[:] = [r for b in blocks for r in b]
            return
        for _ in range(int(len(rows) * rate)):
            j = rng.randrange(1, len(rows))
            rows.insert(rng.randrange(0, j), rows.pop(j))  # a late-reported play shows up early

    return reorder


def _open_streams(
    fmt: str, sink: _Sink, user: UserProfile, max_bytes: int | None, max_records: int | None
) -> dict[str, _FileStream]:
    if fmt in VINTAGES:
        v = VINTAGES[fmt]
        yearly = v.naming == "yearly"
        streams = {}
        for video in (False, True):
            reorder = _reorderer(v.disorder, _mix(user.key, 11, video))
            streams["video" if video else "audio"] = _FileStream(
                sink,
                _extended_namer(v, video),
                max_bytes=max_bytes,
                max_records=max_records,
                split_years=yearly,
                single_naming=yearly or video,
                index_per_group=yearly,
                reorder=reorder,
            )
        return streams
    cap = max_records or ACCOUNT_MAX_RECORDS
    if fmt == "account-legacy":
        namer: Namer = lambda i, _a, _b, _s: f"StreamingHistory{i}.json"  # noqa: E731
        return {
            "all": _FileStream(
                sink,
                namer,
                max_bytes=None,
                max_records=cap,
                split_years=False,
                single_naming=False,
                index_per_group=False,
                reorder=None,
            )
        }
    streams = {}
    for kind in ("music", "podcast", "audiobook"):
        streams[kind] = _FileStream(
            sink,
            _account_namer(kind),
            max_bytes=None,
            max_records=cap,
            split_years=False,
            single_naming=False,
            index_per_group=False,
            reorder=None,
        )
    return streams


def _account_namer(kind: str) -> Namer:
    return lambda i, _a, _b, _s: f"StreamingHistory_{kind}_{i}.json"


def write_export(
    user: UserProfile,
    out_dir: str | Path,
    fmt: str = "current",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    *,
    plays: Iterable[Play] | None = None,
    max_plays: int | None = None,
    as_zip: bool = False,
    extras: bool | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_records: int | None = None,
    export_end: date | datetime | None = None,
) -> list[Path]:
    """Write one export of `user` in `fmt` (a vintage name or account / account-legacy); returns the files.

    Plays come from `plays` or from iter_plays(user, start, end, max_plays). Directory mode writes history
    files flat into out_dir; as_zip writes out_dir/my_spotify_data.zip with Spotify's folders, a ReadMe
    PDF and (account data) Userdata.json / Playlist1.json / YourLibrary.json beside the history.
    """
    if fmt not in ALL_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(ALL_FORMATS)}")
    out = Path(out_dir)
    stamp_ms = _to_ms(export_end) or _to_ms(end) or _to_ms(date(2026, 1, 1)) or 0
    account = fmt in ACCOUNT_FORMATS
    folder = (
        ("MyData" if fmt == "account-legacy" else "Spotify Account Data")
        if account
        else VINTAGES[fmt].zip_folder
    )
    sink = _Sink(out, as_zip, folder, stamp_ms)
    streams = _open_streams(fmt, sink, user, max_bytes, max_records)
    source = plays if plays is not None else iter_plays(user, start, end, max_plays=max_plays)
    mask_ms = _to_ms(export_end) or _to_ms(end)
    username = user.username
    for play in source:
        if account:
            routed = play_to_account(play, fmt == "account-legacy")
            if routed is None:
                continue
            stream, row = routed
        else:
            row = play_to_extended(play, fmt, mask_ms, username)
            if row is None:
                continue
            stream = "video" if play.video else "audio"
        streams[stream].add(_ENCODE(row).encode(), time.gmtime(play.end_ms // 1000).tm_year)
    for stream in streams.values():
        stream.close()
    if as_zip or extras:
        _write_zip_extras(sink, user, fmt, account_json=extras is not False)
    return sink.close()


def write_overlapping_exports(
    user: UserProfile,
    out_dir: str | Path,
    fmt: str,
    first: tuple[date | datetime, date | datetime],
    second: tuple[date | datetime, date | datetime],
    *,
    as_zip: bool = False,
) -> tuple[list[Path], list[Path]]:
    """Two exports of the same user (e.g. requested a year apart) whose overlap holds identical rows."""
    out = Path(out_dir)
    runs = []
    for rng_start, rng_end in (first, second):
        label = f"export-{(_to_date(rng_end)).isoformat()}"
        runs.append(write_export(user, out / label, fmt, rng_start, rng_end, as_zip=as_zip))
    return runs[0], runs[1]


def _to_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
