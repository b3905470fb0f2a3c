"""The spreadsheet converter, on workbooks the tests build: what is shown, what is cut, and the
hostile files (zip bomb, entity expansion, truncation, a million rows) it refuses or bounds."""

from __future__ import annotations

import datetime as dt
import re
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font

from commonroom.previews.converters import xlsx
from commonroom.previews.converters.base import Refused

SHEET = "xl/worksheets/sheet1.xml"


def rewrite_member(source: Path, target: Path, name: str, change: Callable[[str], str]) -> None:
    """A copy of the zip ``source`` with member ``name``'s text changed."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == name:
                data = change(data.decode()).encode()
            dst.writestr(info.filename, data)


def budget(path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append(["Item", "Cost", "Ordered"])
    sheet.append(["Tea", 1.5, dt.date(2025, 3, 12)])
    sheet.append(["Coffee", 2.25, dt.datetime(2025, 3, 12, 14, 30)])  # noqa: DTZ001 (cells are naive)
    sheet.append(["Total", "=SUM(B2:B3)", None])
    sheet.append(["<script>alert(1)</script>", "=B4*2", True])
    sheet.cell(row=9, column=1).font = Font(bold=True)  # styled but empty: trailing rows
    notes = workbook.create_sheet("Notes")
    notes.append(["Agreed at the March board, subject to the audit committee"])
    workbook.save(path)
    return path


def test_sheets_are_tables_with_anchored_rows_and_search_text(tmp_path):
    source = budget(tmp_path / "plain.xlsx")
    # The formula in B4 has a cached value (as Excel saves it); the one in B5 has none.
    target = tmp_path / "budget.xlsx"
    rewrite_member(
        source,
        target,
        SHEET,
        lambda xml: re.sub(
            r"<f>SUM\(B2:B3\)</f>(<v\s*/>|<v></v>)?", "<f>SUM(B2:B3)</f><v>3.75</v>", xml
        ),
    )

    result = xlsx.convert(target, tmp_path)

    assert result.kind == "table"
    assert result.notes == []
    html = result.html
    assert html.count("<table") == 2
    assert "<h2>Budget</h2>" in html and "<h2>Notes</h2>" in html
    # Rows are anchored through the whole workbook: five on Budget, one on Notes.
    assert re.findall(r'<tr id="(p-\d+)"', html) == [f"p-{n}" for n in range(1, 7)]
    assert "<td>3.75</td>" in html  # the cached value, not the formula
    assert "<td>=B4*2</td>" in html  # no cached value: the formula itself
    assert "<td>12 March 2025</td>" in html
    assert "<td>12 March 2025 14:30</td>" in html
    assert "<td>TRUE</td>" in html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The styled, empty rows 6 to 9 are not shown.
    assert '<th scope="row">5</th>' in html and '<th scope="row">6</th>' not in html
    assert "Coffee" in result.text and "Agreed at the March board" in result.text
    # A long cell wraps in a bounded column; the short ones stay on one line (CSS).
    assert (
        '<td><span class="cr-cell-long">Agreed at the March board, subject to the audit '
        "committee</span></td>"
    ) in html


def test_rows_and_columns_beyond_the_limits_are_cut_with_a_note(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Wide"
    for row in range(1, 251):
        sheet.append([f"r{row}c{column}" for column in range(1, 61)])
    workbook.save(tmp_path / "wide.xlsx")

    result = xlsx.convert(tmp_path / "wide.xlsx", tmp_path)

    assert result.notes == [
        "Showing the first 200 of 250 rows of 'Wide'.",
        "Showing the first 50 of 60 columns of 'Wide'.",
    ]
    assert result.html.count("<tr id=") == 200
    assert "r200c50" in result.html
    assert "r201c1" not in result.html and "r1c51" not in result.html


def million_rows(path: Path, *, dimension: bool) -> Path:
    """A workbook made by openpyxl (write-only) whose sheet then gets a million rows, streamed
    into the zip (openpyxl would take ~10 s to write them; the converter reads only 201)."""
    template = path.with_suffix(".template.xlsx")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Big")
    sheet.append(["header"])
    workbook.save(template)
    rows = 1_000_000
    with (
        zipfile.ZipFile(template) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename != SHEET:
                dst.writestr(info.filename, src.read(info))
                continue
            with dst.open(SHEET, "w", force_zip64=True) as out:
                out.write(
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                )
                if dimension:
                    out.write(f'<dimension ref="A1:A{rows}"/>'.encode())
                out.write(b"<sheetData>")
                for start in range(1, rows + 1, 10_000):
                    out.write(
                        "".join(
                            f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'
                            for n in range(start, start + 10_000)
                        ).encode()
                    )
                out.write(b"</sheetData></worksheet>")
    return path


@pytest.mark.parametrize(
    ("dimension", "note"),
    [
        (True, "Showing the first 200 of 1,000,000 rows of 'Big'."),
        (False, "Showing the first 200 rows of 'Big'; it has more."),
    ],
)
def test_a_million_rows_are_cut_at_200_quickly(tmp_path, dimension, note):
    source = million_rows(tmp_path / "big.xlsx", dimension=dimension)

    started = time.monotonic()
    result = xlsx.convert(source, tmp_path)
    elapsed = time.monotonic() - started

    assert result.notes == [note]
    assert result.html.count("<tr id=") == 200
    assert "<td>200</td>" in result.html and "<td>201</td>" not in result.html
    assert elapsed < 3, f"took {elapsed:.1f}s: the sheet was read past the cut"


def zip_bomb(path: Path, *, megabytes: int) -> Path:
    """A real workbook whose first sheet is replaced by ``megabytes`` of zeros, streamed."""
    template = budget(path.with_suffix(".template.xlsx"))
    chunk = b"0" * (1024 * 1024)
    with (
        zipfile.ZipFile(template) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename != SHEET:
                dst.writestr(info.filename, src.read(info))
                continue
            with dst.open(SHEET, "w", force_zip64=True) as out:
                for _ in range(megabytes):
                    out.write(chunk)
    return path


@pytest.mark.parametrize("megabytes", [20, 150])  # over the ratio; over the member size too
def test_a_zip_bomb_is_refused_quickly_in_bounded_memory(tmp_path, megabytes):
    source = zip_bomb(tmp_path / "bomb.xlsx", megabytes=megabytes)
    assert source.stat().st_size < 1024 * 1024

    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Refused, match="expands to far more than its size"):
            xlsx.convert(source, tmp_path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 5 * 1024 * 1024


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + "]>\n"
)


def test_an_entity_expansion_in_a_sheet_is_refused(tmp_path):
    source = budget(tmp_path / "plain.xlsx")
    target = tmp_path / "laughs.xlsx"

    def inject(xml: str) -> str:
        xml = re.sub(r"^<\?xml[^>]*\?>\s*", "", xml)
        return BILLION_LAUGHS + xml.replace("<v>1.5</v>", "<v>&lol9;</v>", 1)

    rewrite_member(source, target, SHEET, inject)
    assert "<!ENTITY lol9" in zipfile.ZipFile(target).read(SHEET).decode()

    with pytest.raises(Refused, match="entity declarations"):
        xlsx.convert(target, tmp_path)


def test_a_truncated_workbook_is_refused_with_a_message(tmp_path):
    data = budget(tmp_path / "whole.xlsx").read_bytes()
    target = tmp_path / "cut.xlsx"
    target.write_bytes(data[: len(data) // 2])

    with pytest.raises(Refused, match="damaged"):
        xlsx.convert(target, tmp_path)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    target = tmp_path / "other.xlsx"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("hello.txt", "not a spreadsheet")

    with pytest.raises(Refused, match="not an Excel workbook"):
        xlsx.convert(target, tmp_path)
