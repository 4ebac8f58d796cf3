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
