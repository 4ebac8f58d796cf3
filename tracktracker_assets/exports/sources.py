"""Where export files come from: plain files, or entries of the ZIP a service delivers (one level of
ZIPs inside it, as Apple packs some files).

ZIPs are read in place (no extraction) after checks that keep a hostile archive harmless: no absolute
or `..` entry names, a bounded number of entries, bounded total and per-entry sizes and compression
ratios, and a reader that stops at the declared size whatever the entry's header claims.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from tracktracker_assets.exports.errors import RE_EXPORT_HINT, ImportProblem
from tracktracker_assets.services.shares import largest_first

MAX_ENTRIES = 10_000
MAX_RATIO = 200  # JSON compresses ~10-20x; a bomb compresses thousands of times
MAX_TOTAL_BYTES = 64 << 30
# members that can hold listening history: Spotify's JSON, the other services' CSV, JSON lines, HTML
# and spreadsheets; a ZIP inside the ZIP (Apple packs some files so) is opened one level deep
HISTORY_SUFFIXES = frozenset({".json", ".jsonl", ".csv", ".html", ".htm", ".xlsx"})
NESTED_ZIP_SUFFIX = ".zip"
MAX_NESTED_ZIP_BYTES = 1 << 30
CHECKERS = 2  # threads that check a ZIP's checksums (first_corrupt_member)


NOT_REGULAR_HINT = (
    "Give the export file itself: copy it out of the pipe, device or socket into a regular file first."
)


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, what in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def check_regular(path: Path, name: str | None = None) -> os.stat_result:
    """The file's status if it is a regular file (symbolic links followed); ImportProblem otherwise.

    Only stat, never open: opening a FIFO waits for a writer forever, and a device can stream
    without end.
    """
    name = name or str(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        broken = path.is_symlink()
        raise ImportProblem(
            name,
            "is a symbolic link to a file that does not exist." if broken else "no such file.",
            hint="Check the path.",
        ) from None
    except OSError as exc:
        raise ImportProblem(
            name, f"cannot be read ({exc.strerror or exc}).", hint="Check the path."
        ) from None
    kind = special_kind(status.st_mode)
    if kind is not None:
        via = " (through a symbolic link)" if path.is_symlink() else ""
        raise ImportProblem(name, f"is {kind}{via}, not a regular file.", hint=NOT_REGULAR_HINT)
    return status


def open_regular(path: Path, name: str | None = None) -> IO[bytes]:
    """Open a regular file for reading; ImportProblem for anything else, without ever blocking.

    Checked before opening and again on the opened descriptor (O_NONBLOCK keeps the open itself from
    waiting), so a file swapped for a pipe in between is refused too.
    """
    check_regular(path, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ImportProblem(
            name or str(path), f"cannot be opened ({exc.strerror or exc}).", hint="Check its permissions."
        ) from None
    kind = special_kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise ImportProblem(name or str(path), f"is {kind}, not a regular file.", hint=NOT_REGULAR_HINT)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class Source:
    """Something that can be opened as a binary stream of one export file, more than once."""

    name: str
    size: int

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:  # pragma: no cover - interface
        raise NotImplementedError
        yield


@dataclass
class FileSource(Source):
    path: Path
    display: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.display or str(self.path)

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.path.stat().st_size

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with open_regular(self.path, self.name) as stream:
            yield stream


class _BoundedReader:
    """Reads a ZIP entry and refuses to give more bytes than the entry declared (zip bombs lie)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        self._raw = raw
        self._left = limit
        self._name = name

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size >= 0 else self._left + 1)
        self._left -= len(data)
        if self._left < 0:
            raise ImportProblem(
                self._name,
                "the ZIP entry is larger than its header declares (a zip bomb?).",
                hint="Use the ZIP exactly as Spotify delivered it.",
            )
        return data


@dataclass
class ZipEntrySource(Source):
    archive: Path
    entry: str
    declared_size: int
    # the member of `archive` that is itself a ZIP holding `entry` (one level deep), if any
    inner_zip: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        inner = f"{self.inner_zip}:" if self.inner_zip else ""
        return f"{self.archive.name}:{inner}{self.entry}"

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.declared_size

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        try:
            with zipfile.ZipFile(self.archive) as zf:
                if self.inner_zip is None:
                    with zf.open(self.entry) as raw:
                        yield _BoundedReader(raw, self.declared_size, self.name)  # type: ignore[misc]
                else:
                    with (
                        zf.open(self.inner_zip) as outer,
                        zipfile.ZipFile(outer) as inner,  # type: ignore[arg-type]
                        inner.open(self.entry) as raw,
                    ):
                        yield _BoundedReader(raw, self.declared_size, self.name)  # type: ignore[misc]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
            if isinstance(exc, ImportProblem):
                raise
            raise ImportProblem(
                self.name, f"cannot read this ZIP entry: {exc}.", hint=RE_EXPORT_HINT
            ) from None

    def read_all(self) -> IO[bytes]:
        """The whole entry in memory (for a reader that consults another file of the same ZIP)."""
        with self.open() as stream:
            return io.BytesIO(stream.read())


def is_zip(path: Path) -> bool:
    with open_regular(path, path.name) as handle:
        return handle.read(4) == b"PK\x03\x04"


def is_workbook(path: Path) -> bool:
    """An Office Open XML spreadsheet (.xlsx): a ZIP that is one file (Deezer's export), not an archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _is_history_candidate(entry: str) -> bool:
    pure = PurePosixPath(entry)
    if (pure.parts and pure.parts[0] == "__MACOSX") or pure.name.startswith("._"):
        return False  # macOS resource forks beside each file of a ZIP made on a Mac
    return pure.suffix.lower() in HISTORY_SUFFIXES


def zip_entries(path: Path, *, max_total_bytes: int = MAX_TOTAL_BYTES) -> list[ZipEntrySource]:
    """The JSON entries of a ZIP, after the safety checks. Raises ImportProblem for a bad archive."""
    name = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportProblem(name, f"not a readable ZIP archive ({exc}).", hint=RE_EXPORT_HINT) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ImportProblem(
                name,
                f"the ZIP holds {len(infos)} entries, more than {MAX_ENTRIES}.",
                hint="This is not a Spotify export.",
            )
        total = 0
        entries: list[ZipEntrySource] = []
        nested: list[zipfile.ZipInfo] = []
        for info in infos:
            _check_entry_name(name, info.filename)
            if info.is_dir():
                continue
            total += info.file_size
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise ImportProblem(
                    name,
                    f"entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x "
                    f"(limit {MAX_RATIO}x): refusing a likely zip bomb.",
                    hint="Use the ZIP exactly as Spotify delivered it.",
                )
            if total > max_total_bytes:
                raise ImportProblem(
                    name,
                    f"the ZIP expands to more than {max_total_bytes >> 20} MB: refusing it.",
                    hint="Import its history files one by one, or raise TRACKTRACKER_MAX_UPLOAD_MB.",
                )
            if info.flag_bits & 0x1:
                raise ImportProblem(name, f"entry {info.filename!r} is encrypted.", hint=RE_EXPORT_HINT)
            if _is_history_candidate(info.filename):
                entries.append(ZipEntrySource(path, info.filename, info.file_size))
            elif PurePosixPath(info.filename).suffix.lower() == NESTED_ZIP_SUFFIX:
                nested.append(info)
        # check every CRC before loading anything, so a corrupt archive loads nothing at all
        try:
            bad = first_corrupt_member(path, infos)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise ImportProblem(name, f"the ZIP is corrupt ({exc}).", hint=RE_EXPORT_HINT) from None
        if bad is not None:
            raise ImportProblem(
                name, f"the ZIP is corrupt: entry {bad!r} fails its checksum.", hint=RE_EXPORT_HINT
            )
        for info in nested:
            entries.extend(_nested_entries(path, zf, info, max_total_bytes - total))
    return entries


def first_corrupt_member(path: Path, infos: list[zipfile.ZipInfo]) -> str | None:
    """ZipFile.testzip() on CHECKERS threads: the first member (in the archive's order) whose data
    fails its checksum, else None; any other error reading one is raised. zlib and crc32 let go of
    the GIL, so the threads inflate on as many cores (a ten-year Spotify ZIP, 134 MB inflated: 0.28 s
    on one core). Each thread reads through a ZipFile of its own: one file handle cannot seek for two."""
    members = [info for info in infos if not info.is_dir()]
    shares = largest_first(members, lambda info: info.file_size, CHECKERS)
    with ThreadPoolExecutor(max_workers=max(len(shares), 1)) as pool:
        found = list(pool.map(lambda share: _corrupt_members(path, share), shares))
    corrupt = {name for names in found for name in names}
    return next((info.filename for info in members if info.filename in corrupt), None)


def _corrupt_members(path: Path, infos: list[zipfile.ZipInfo]) -> list[str]:
    corrupt = []
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            try:
                with zf.open(info) as member:
                    while member.read(1 << 20):
                        pass
            except zipfile.BadZipFile:
                corrupt.append(info.filename)
    return corrupt


def _nested_entries(
    path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int
) -> list[ZipEntrySource]:
    """The history members of a ZIP inside the ZIP, under the same checks (no deeper nesting)."""
    where = f"{path.name}:{info.filename}"
    if info.file_size > MAX_NESTED_ZIP_BYTES:
        raise ImportProblem(where, "the ZIP inside the ZIP is larger than 1 GB: refusing it.")
    try:
        with zf.open(info) as raw, zipfile.ZipFile(raw) as inner:  # type: ignore[arg-type]
            members = inner.infolist()
            if len(members) > MAX_ENTRIES:
                raise ImportProblem(where, f"the inner ZIP holds {len(members)} entries: refusing it.")
            found: list[ZipEntrySource] = []
            for member in members:
                _check_entry_name(where, member.filename)
                if member.is_dir() or not _is_history_candidate(member.filename):
                    continue
                budget -= member.file_size
                ratio = member.file_size // max(member.compress_size, 1)
                if budget < 0 or (member.file_size > 1 << 20 and ratio > MAX_RATIO):
                    raise ImportProblem(
                        where,
                        f"entry {member.filename!r} expands {ratio}x or past the size limit: refusing "
                        "a likely zip bomb.",
                        hint="Use the ZIP exactly as the service delivered it.",
                    )
                if member.flag_bits & 0x1:
                    raise ImportProblem(
                        where, f"entry {member.filename!r} is encrypted.", hint=RE_EXPORT_HINT
                    )
                found.append(ZipEntrySource(path, member.filename, member.file_size, inner_zip=info.filename))
            return found
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ImportProblem(
            where, f"the ZIP inside the ZIP is not readable ({exc}).", hint=RE_EXPORT_HINT
        ) from None


def _check_entry_name(archive: str, entry: str) -> None:
    pure = PurePosixPath(entry.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(entry) > 1 and entry[1] == ":"):
        raise ImportProblem(
            archive,
            f"unsafe entry name {entry!r} (absolute, or climbing out with '..'): refusing the whole ZIP.",
            hint="Use the ZIP exactly as Spotify delivered it.",
        )
