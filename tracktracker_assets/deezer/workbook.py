"""Rows of one sheet of an XLSX workbook, streamed: the ZIP's sheet XML is parsed with iterparse and
each <row> is released once read, so a sheet of any length is read in bounded memory.

Only what Deezer's export needs: inline strings (openpyxl writes every cell so), shared strings
(Excel re-saves them so), numbers and formula strings; sheets found by name through the workbook's
relationships.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import IO
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_COLUMN = re.compile(r"^([A-Z]+)")


class WorkbookError(ValueError):
    """The workbook cannot be read; the message says why (for the import report)."""


def sheet_names(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> member path of its XML."""
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError) as exc:
        raise WorkbookError(f"its workbook description is missing or damaged ({exc})") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{PKG_REL}Relationship")}
    found = {}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        target = targets.get(sheet.get(f"{REL}id"), "")
        # targets are relative to xl/ or absolute within the package ("/xl/worksheets/sheet8.xml")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        found[sheet.get("name", "")] = path
    return found


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings = []
    with book.open("xl/sharedStrings.xml") as xml:
        for _, element in ElementTree.iterparse(xml):
            if element.tag == f"{MAIN}si":
                strings.append("".join(t.text or "" for t in element.iter(f"{MAIN}t")))
                element.clear()
    return strings


def _column_index(reference: str) -> int:
    letters = _COLUMN.match(reference)
    if not letters:
        raise WorkbookError(f"a cell reference '{reference}' is not of the A1 form")
    index = 0
    for char in letters.group(1):
        index = index * 26 + ord(char) - 64
    return index - 1


def rows(book: zipfile.ZipFile, member: str) -> Iterator[tuple[int, list[str | None]]]:
    """(row number as the spreadsheet shows it, cell texts by column; None for an empty cell)."""
    shared = _shared_strings(book)
    with book.open(member) as xml:
        parser = ElementTree.iterparse(xml, events=("end",))
        number = 0
        for _, element in parser:
            if element.tag != f"{MAIN}row":
                continue
            number = int(element.get("r") or number + 1)
            cells: list[str | None] = []
            for position, cell in enumerate(element.iter(f"{MAIN}c")):
                reference = cell.get("r")
                index = _column_index(reference) if reference else position
                kind = cell.get("t")
                if kind == "inlineStr":
                    value: str | None = "".join(t.text or "" for t in cell.iter(f"{MAIN}t"))
                else:
                    raw = cell.findtext(f"{MAIN}v")
                    try:
                        value = shared[int(raw)] if kind == "s" and raw is not None else raw
                    except (IndexError, ValueError):
                        raise WorkbookError(f"row {number} refers to a shared string it lacks") from None
                cells.extend([None] * (index + 1 - len(cells)))
                cells[index] = value
            element.clear()
            yield number, cells


def open_workbook(stream: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookError(f"is no complete XLSX file: truncated or damaged ({exc})") from None
