"""Errors about an input file that a person can act on: which file, which record, what, what to do."""

from __future__ import annotations


class ImportProblem(Exception):
    """A file that cannot be loaded. Nothing of it was written; everything loaded before is intact."""

    def __init__(
        self, file: str, problem: str, *, hint: str | None = None, record: int | None = None
    ) -> None:
        self.file = file
        self.problem = problem
        self.hint = hint
        self.record = record
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}" + (f", record {self.record}" if self.record is not None else "")
        text = f"{where}: {self.problem}"
        if self.hint:
            text += f" {self.hint}"
        return text


RE_EXPORT_HINT = "Request a fresh copy from Spotify (Account > Privacy settings) or re-download it."


class ServiceProblem(RuntimeError):
    """A load stopped by something other than the file: the database went away, a disk is full.

    The file is not at fault, so it is never rejected: it stays in the inbox, nothing of it was loaded,
    and the same import completes once the service is back.
    """

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def disk_full_hint(where: str) -> str:
    return f"Free some space on the disk holding {where} (`df -h {where}` shows it) and try again."
