"""Spreadsheets (.xlsx, .xlsm): each sheet as a table.

Shows: every worksheet (up to :data:`MAX_SHEETS`) as a table with column letters and row numbers;
a formula is shown as the value the spreadsheet last calculated (its cached value), or as the
formula itself when the file holds no value; dates as "12 March 2025"; empty rows at the end are
left out. Each row carries ``id="p-<n>"`` (numbered through the whole workbook) so a comment can
point at it; the cells' words are the search text.

Cuts: the first :data:`MAX_ROWS` rows and :data:`MAX_COLUMNS` columns of each sheet, the first
:data:`MAX_CELL_CHARS` characters of a cell; each cut is said in ``notes``. Chart sheets are
named, not drawn.

Refuses: a file whose zip fails :func:`limits.check_zip` (a zip bomb, too many parts), a
damaged or truncated file, XML with entity declarations (defusedxml stops a "billion laughs").
The workbook is opened read-only (streamed), so a sheet of a million rows is read only as far as
the rows shown.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
from openpyxl.xml.functions import iterparse

from commonroom.previews import limits
from commonroom.previews.converters._text import SearchText
from commonroom.previews.converters.base import Refused, Result, cell_html
from commonroom.previews.html import sanitise

MAX_SHEETS = 30
MAX_ROWS = 200
MAX_COLUMNS = 50
MAX_CELL_CHARS = 2_000
MAX_TEXT_CHARS = 2_000_000

DAMAGED = "The spreadsheet is damaged or is not an Excel workbook, so it cannot be previewed."
ENTITIES = "The spreadsheet contains XML this preview does not read (entity declarations)."


def convert(source: Path, output: Path) -> Result:
    """The workbook at ``source`` as tables (``output`` is unused: a sheet needs no files)."""
    limits.check_zip(source).close()
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, default styles): the
            # preview does not need them, and a warning must not fail the conversion.
            warnings.simplefilter("ignore")
            return _convert(source)
    except Refused:
        raise
    except Exception as exc:  # a hostile or damaged file can break the parser in many ways
        if _is_defusedxml_error(exc):
            raise Refused(ENTITIES) from exc
        if isinstance(exc, MemoryError):
            raise Refused("The spreadsheet is too large to preview.") from exc
        raise Refused(DAMAGED) from exc


def _is_defusedxml_error(exc: BaseException) -> bool:
    from defusedxml import DefusedXmlException

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def _bounded_sizing() -> Iterator[None]:
    """openpyxl sizes each read-only sheet on opening by looking for its ``<dimension>``, but a
    sheet without one (files from many tools, or a hostile one) is then parsed to its end: a
    million-row sheet costs seconds before any row is read. While this is in force the search
    stops where the cells begin, and a sheet without a dimension is simply unsized."""
    original = ReadOnlyWorksheet._get_size
    ReadOnlyWorksheet._get_size = _get_size
    try:
        yield
    finally:
        ReadOnlyWorksheet._get_size = original


def _get_size(sheet: ReadOnlyWorksheet) -> None:
    with sheet._get_source() as source:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                try:
                    bounds = range_boundaries(str(element.get("ref", "")))
                except (TypeError, ValueError):
                    return  # a nonsense dimension: unsized
                if all(isinstance(b, int) for b in bounds):
                    sheet._min_column, sheet._min_row, sheet._max_column, sheet._max_row = bounds
                return
            if element.tag == DATA_TAG:
                return


def _convert(source: Path) -> Result:
    with _bounded_sizing():
        values = load_workbook(source, read_only=True, data_only=True, keep_links=False)
        formulas = load_workbook(source, read_only=True, data_only=False, keep_links=False)
    try:
        notes: list[str] = []
        parts: list[str] = []
        words = SearchText(MAX_TEXT_CHARS)
        anchor = 0
        sheets = values.worksheets
        if len(sheets) > MAX_SHEETS:
            notes.append(f"Showing the first {MAX_SHEETS} of {len(sheets):,} sheets.")
        for index, sheet in enumerate(sheets[:MAX_SHEETS]):
            title = str(sheet.title)
            if not hasattr(sheet, "iter_rows"):  # a chart sheet
                parts.append(
                    f'<section class="cr-preview-sheet"><h2>{escape(title)}</h2>'
                    '<p class="cr-preview-note">This sheet is a chart; download the file to see '
                    "it.</p></section>"
                )
                continue
            formula_sheet = formulas.worksheets[index]
            rows, more, declared_rows, declared_columns = _read_sheet(sheet, formula_sheet)
            notes.extend(_cut_notes(title, len(rows), more, declared_rows, declared_columns))
            words.add(title)
            body = []
            for number, row in enumerate(rows, start=1):
                anchor += 1
                cells = "".join(cell_html(cell) for cell in row)
                body.append(f'<tr id="p-{anchor}"><th scope="row">{number}</th>{cells}</tr>')
                words.add(" ".join(cell for cell in row if cell))
            width = max((len(row) for row in rows), default=0)
            head = "".join(
                f'<th scope="col">{get_column_letter(column)}</th>'
                for column in range(1, width + 1)
            )
            table = (
                '<table class="cr-preview-table">'
                f'<thead><tr><th scope="col"></th>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>"
                if rows
                else '<p class="cr-preview-note">This sheet is empty.</p>'
            )
            parts.append(
                f'<section class="cr-preview-sheet"><h2>{escape(title)}</h2>{table}</section>'
            )
        if words.cut:
            notes.append("Only the beginning of the workbook's text is searchable.")
        html = sanitise("".join(parts), extra_attributes={"tr": {"id"}})
        return Result(kind="table", html=html, text=words.text(), notes=notes)
    finally:
        values.close()
        formulas.close()


def _read_sheet(sheet: Any, formula_sheet: Any) -> tuple[list[list[str]], bool, int, int]:
    """The first rows of a sheet as text (trailing empty rows and columns dropped), whether
    there are more rows than shown, and the sheet's declared size (0 when it declares none)."""
    declared_rows = int(sheet.max_row or 0)
    declared_columns = int(sheet.max_column or 0)
    width = min(declared_columns or MAX_COLUMNS, MAX_COLUMNS)
    shown = _rows(sheet, width)
    raw = _rows(formula_sheet, width)
    rows: list[list[str]] = []
    more = False
    for number, (row, formula_row) in enumerate(zip(shown, raw, strict=False), start=1):
        if number > MAX_ROWS:
            more = True
            break
        rows.append([_text(value, formula) for value, formula in _cells(row, formula_row)])
    while rows and not any(rows[-1]):
        rows.pop()
    used = max((max((i + 1 for i, c in enumerate(row) if c), default=0) for row in rows), default=0)
    return [row[:used] for row in rows], more, declared_rows, declared_columns


def _rows(sheet: Any, width: int) -> Iterator[Sequence[Any]]:
    # MAX_ROWS + 1: one row past the cut says whether there is more (openpyxl stops reading
    # the sheet's XML there).
    return iter(sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=width, values_only=True))


def _cells(row: Sequence[Any], formula_row: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    for position, value in enumerate(row):
        formula = formula_row[position] if position < len(formula_row) else None
        yield value, formula


def _cut_notes(
    title: str, shown: int, more: bool, declared_rows: int, declared_columns: int
) -> list[str]:
    notes = []
    name = f"'{title}'"
    if more:
        if declared_rows > MAX_ROWS:
            notes.append(f"Showing the first {MAX_ROWS} of {declared_rows:,} rows of {name}.")
        else:
            notes.append(f"Showing the first {MAX_ROWS} rows of {name}; it has more.")
    if declared_columns > MAX_COLUMNS:
        notes.append(f"Showing the first {MAX_COLUMNS} of {declared_columns:,} columns of {name}.")
    return notes


def _text(value: Any, formula: Any) -> str:
    if value is None:
        if isinstance(formula, str) and formula.startswith("="):
            value = formula  # no value was calculated and saved: show the formula
        else:
            return ""
    text = _format(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    return text


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        date = f"{value.day} {value:%B %Y}"
        if value.time() == dt.time(0, 0):
            return date
        return f"{date} {value:%H:%M}" + (f":{value:%S}" if value.second else "")
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    if isinstance(value, dt.time):
        return f"{value:%H:%M}" + (f":{value:%S}" if value.second else "")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"
    return str(value)
