"""Plain text, Markdown and CSV: read at most ``limits.MAX_TEXT_BYTES`` (with a note when the file
is longer), decoded as UTF-8 or, failing that, Windows-1252 (with a note)."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

from markdown_it import MarkdownIt

from commonroom.previews.converters.base import Refused, Result, cell_html
from commonroom.previews.html import document_html
from commonroom.previews.limits import MAX_TEXT_BYTES

MAX_CSV_ROWS = 500
MAX_CSV_COLUMNS = 200

# CommonMark with tables and strikethrough; raw HTML typed in the file is shown as text (never
# parsed), and the result goes through the document sanitiser anyway.
_md = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable(
    ["table", "strikethrough", "linkify"]
)


def _read(source: Path) -> tuple[str, list[str]]:
    notes: list[str] = []
    try:
        with source.open("rb") as f:
            data = f.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise Refused("The file could not be read.") from exc
    if len(data) > MAX_TEXT_BYTES:
        data = data[:MAX_TEXT_BYTES]
        notes.append(
            f"The file is longer than {MAX_TEXT_BYTES // (1024 * 1024)} MB: only its beginning "
            "is shown. Download it to read all of it."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", "replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3 and len(data) == MAX_TEXT_BYTES:
                text = data[: exc.start].decode("utf-8-sig")  # cut in the middle of a character
            else:
                text = data.decode("cp1252", "replace")
                notes.append("The file is not UTF-8 text; it is shown as Windows text.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text, notes


def convert_txt(source: Path, outdir: Path) -> Result:
    text, notes = _read(source)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    body = "".join(
        '<p class="cr-preview-text">' + html.escape(p.strip("\n")).replace("\n", "<br>") + "</p>"
        for p in paragraphs
    )
    if not paragraphs:
        notes.append("The file is empty.")
    return Result(kind="html", html=document_html(body), text=text, notes=notes)


def convert_md(source: Path, outdir: Path) -> Result:
    text, notes = _read(source)
    rendered = _md.render(text)
    if "<table" in rendered:
        rendered = rendered.replace("<table>", '<div class="cr-preview-table"><table>').replace(
            "</table>", "</table></div>"
        )
    if not text.strip():
        notes.append("The file is empty.")
    return Result(kind="html", html=document_html(rendered), text=text, notes=notes)


def convert_csv(source: Path, outdir: Path) -> Result:
    text, notes = _read(source)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    total = 0
    widest = 0
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            total += 1
            if len(rows) < MAX_CSV_ROWS:
                rows.append(row[:MAX_CSV_COLUMNS])
            widest = max(widest, len(row))
    except csv.Error as exc:
        raise Refused("The file is not readable as CSV (comma-separated values).") from exc
    if not rows:
        notes.append("The file is empty.")
        return Result(kind="table", html="", text="", notes=notes)
    if total > MAX_CSV_ROWS:
        notes.insert(0, f"Showing the first {MAX_CSV_ROWS:,} of {total:,} rows.")
    if widest > MAX_CSV_COLUMNS:
        notes.append(f"Showing the first {MAX_CSV_COLUMNS} of {widest} columns.")

    def cells(row: list[str], tag: str) -> str:
        return "".join(cell_html(c, tag) for c in row)

    head, *body = rows
    table = (
        '<div class="cr-preview-table"><table>'
        f"<thead><tr>{cells(head, 'th')}</tr></thead><tbody>"
        + "".join(f"<tr>{cells(r, 'td')}</tr>" for r in body)
        + "</tbody></table></div>"
    )
    words = "\n".join("\t".join(r) for r in rows)
    return Result(kind="table", html=document_html(table), text=words, notes=notes)
