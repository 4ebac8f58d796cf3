"""Output files: where they go (a directory or a ZIP) and how a series of rows is cut into files."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # same separators as the real files: ", " and ": "


class _Sink:
    """Where finished files go: a flat directory, or a ZIP laid out like Spotify's."""

    def __init__(self, out_dir: Path, as_zip: bool, folder: str, stamp_ms: int) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.folder = out_dir, folder
        self.paths: list[Path] = []
        stamp = time.gmtime(stamp_ms // 1000)
        self.date_time = (max(stamp.tm_year, 1980), stamp.tm_mon, stamp.tm_mday, 12, 0, 0)
        self.zip = None
        if as_zip:
            path = out_dir / "my_spotify_data.zip"
            self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
            self.paths.append(path)

    def put(self, name: str, data: bytes) -> None:
        if self.zip is not None:
            info = zipfile.ZipInfo(f"{self.folder}/{name}", self.date_time)  # fixed time: reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            self.zip.writestr(info, data, compresslevel=1)
        else:
            path = self.out_dir / name
            path.write_bytes(data)
            self.paths.append(path)

    def close(self) -> list[Path]:
        if self.zip is not None:
            self.zip.close()
        return self.paths


Namer = Callable[[int, int, int, bool], str]  # (index, first year, last year, only file of its group)


class _FileStream:
    """Buffers the rows of one file series and cuts files at a byte or row cap, naming them like Spotify.

    Groups are calendar years when split_years is set (newest vintage), else the whole series. With
    single_naming the first file of a group is held back until we know whether it stays the only one
    (then it gets no _N suffix), so at most two files are ever in memory.
    """

    def __init__(
        self,
        sink: _Sink,
        namer: Namer,
        *,
        max_bytes: int | None,
        max_records: int | None,
        split_years: bool,
        single_naming: bool,
        index_per_group: bool,
        reorder: Callable[[list[bytes], int], None] | None,
    ) -> None:
        self.sink, self.namer = sink, namer
        self.max_bytes, self.max_records = max_bytes, max_records
        self.split_years, self.single_naming = split_years, single_naming
        self.index_per_group = index_per_group
        self.reorder = reorder
        self.rows: list[bytes] = []
        self.size = 0
        self.years = (9999, 0)
        self.group_year: int | None = None
        self.group_files = 0
        self.files = 0
        self.pending: tuple[bytes, int, int, int] | None = None

    def add(self, row: bytes, year: int) -> None:
        if self.split_years and self.group_year is not None and year != self.group_year:
            self._end_group()
        self.group_year = year
        if self.rows and (
            (self.max_bytes and self.size + len(row) + 2 > self.max_bytes)
            or (self.max_records and len(self.rows) >= self.max_records)
        ):
            self._cut()
        self.rows.append(row)
        self.size += len(row) + 2
        self.years = (min(self.years[0], year), max(self.years[1], year))

    def _cut(self) -> None:
        if not self.rows:
            return
        if self.reorder:
            self.reorder(self.rows, self.files)
        index = self.group_files if self.index_per_group else self.files
        done = (b"[" + b", ".join(self.rows) + b"]", *self.years, index)
        self.rows, self.size, self.years = [], 0, (9999, 0)
        self.files += 1
        self.group_files += 1
        if self.single_naming and self.group_files == 1:
            self.pending = done
            return
        if self.pending:
            self._emit(self.pending, False)
            self.pending = None
        self._emit(done, False)

    def _emit(self, done: tuple[bytes, int, int, int], single: bool) -> None:
        data, y0, y1, index = done
        self.sink.put(self.namer(index, y0, y1, single), data)

    def _end_group(self) -> None:
        self._cut()
        if self.pending:
            self._emit(self.pending, self.group_files == 1)
            self.pending = None
        self.group_files = 0

    def close(self) -> None:
        self._end_group()
