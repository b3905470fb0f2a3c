"""PDFs: a list of pages, each drawn on demand, and the words of each page for search.

Shows: one ``<figure id="p-<n>">`` for each page, holding ``<img src="{{file:page-<n>.png}}"
loading="lazy" alt="Page n">`` sized to the page's shape. Nothing is drawn while converting: the
app draws a page when a reader first asks for it, with :func:`render_page` (in the sandbox too),
and stores it as ``page-<n>.png``. The text of each page is extracted for search.

Cuts: the first :data:`limits.MAX_PDF_PAGES` pages ("Showing the first 2,000 of 10,000 pages"),
:data:`MAX_PAGE_CHARS` characters of text a page and :data:`MAX_TEXT_CHARS` in all, and text
extraction stops after :data:`TEXT_SECONDS` seconds (each said in ``notes``). A drawn page is at
most :data:`MAX_RENDER_WIDTH` pixels wide and :data:`MAX_RENDER_PIXELS` pixels in all.

Refuses: a PDF protected by a password (or an unknown security handler), a damaged or truncated
file pdfium cannot open, a PDF without pages.
"""

from __future__ import annotations

import math
import time
from html import escape
from pathlib import Path
from typing import Any

from PIL import Image

from commonroom.previews import limits
from commonroom.previews.converters._text import SearchText
from commonroom.previews.converters.base import Refused, Result
from commonroom.previews.html import sanitise

MAX_PAGE_CHARS = 50_000
MAX_TEXT_CHARS = 2_000_000
TEXT_SECONDS = 20.0
PAGE_WIDTH = 1200  # the width a page is drawn at, and the width its placeholder says
MAX_RENDER_WIDTH = 2400
MAX_RENDER_PIXELS = 12_000_000  # ~ an A4 page at 2400 x 3400, or a long page scaled down

PROTECTED = "This PDF is protected by a password, so it cannot be previewed; download to open it."
DAMAGED = "The PDF is damaged or incomplete, so it cannot be previewed."
NO_PAGES = "The PDF has no pages to show."


def convert(source: Path, output: Path) -> Result:
    """The PDF at ``source`` as page placeholders and text (``output`` is unused: pages are
    drawn later, one at a time, by :func:`render_page`)."""
    document = _open(source)
    try:
        return _convert(document)
    except Refused:
        raise
    except MemoryError as exc:
        raise Refused("The PDF is too large to preview.") from exc
    except Exception as exc:  # pdfium fails in many ways on a damaged file
        raise Refused(DAMAGED) from exc
    finally:
        document.close()


def render_page(
    source: Path, page_number: int, out_path: Path, width: int = PAGE_WIDTH
) -> tuple[int, int]:
    """Draw page ``page_number`` (from 1) of the PDF at ``source`` as a PNG at ``out_path``,
    ``width`` pixels wide (at most :data:`MAX_RENDER_WIDTH`, and fewer when the page is so long
    that it would pass :data:`MAX_RENDER_PIXELS`). Returns the picture's size in pixels."""
    width = max(16, min(int(width), MAX_RENDER_WIDTH))
    document = _open(source)
    try:
        if not 1 <= page_number <= min(len(document), limits.MAX_PDF_PAGES):
            raise Refused("That page is not in the preview.")
        page = document[page_number - 1]
        try:
            page_width, page_height = page.get_size()
            if not (page_width > 0 and page_height > 0):
                raise Refused(DAMAGED)
            scale = width / page_width
            if page_width * page_height * scale * scale > MAX_RENDER_PIXELS:
                # 0.99: pdfium rounds each side up to whole pixels.
                scale = 0.99 * math.sqrt(MAX_RENDER_PIXELS / (page_width * page_height))
            bitmap = page.render(scale=scale)
            picture = bitmap.to_pil()
            # 256 colours: a page of text and figures takes well under half the bytes (about 44 KB
            # instead of 100 KB at 1,200 px wide) for about 60 ms more, which matters on a phone.
            # (Max coverage keeps white paper pure white; the fast octree method tints it.)
            picture.quantize(256, method=Image.Quantize.MAXCOVERAGE).save(out_path, "PNG")
            return picture.width, picture.height
        finally:
            page.close()
    except Refused:
        raise
    except MemoryError as exc:
        raise Refused("The page is too large to draw.") from exc
    except Exception as exc:
        raise Refused(DAMAGED) from exc
    finally:
        document.close()


def _open(source: Path) -> Any:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) in {
            pdfium_c.FPDF_ERR_PASSWORD,
            pdfium_c.FPDF_ERR_SECURITY,
        }:
            raise Refused(PROTECTED) from exc
        raise Refused(DAMAGED) from exc
    except (OSError, ValueError) as exc:
        raise Refused(DAMAGED) from exc
    return document


def _convert(document: Any) -> Result:
    total = len(document)
    if total < 1:
        raise Refused(NO_PAGES)
    shown = min(total, limits.MAX_PDF_PAGES)
    notes = []
    if total > shown:
        notes.append(f"Showing the first {shown:,} of {total:,} pages.")
    words, searchable, page_texts = _text(document, shown)
    if searchable < shown:
        notes.append(f"Only the first {searchable:,} pages are searchable.")
    elif words.cut:
        notes.append("Only the beginning of the PDF's text is searchable.")
    figures = []
    for number in range(1, shown + 1):
        page_width, page_height = document.get_page_size(number - 1)
        size = ""
        if page_width > 0 and page_height > 0:
            height = round(PAGE_WIDTH * page_height / page_width)
            if 1 <= height <= 9_999:
                size = f' width="{PAGE_WIDTH}" height="{height}"'
        figures.append(
            f'<figure class="cr-preview-page" id="p-{number}">'
            f'<img src="{{{{file:page-{number}.png}}}}" loading="lazy" alt="Page {number}"{size}>'
            f"<figcaption>Page {number}</figcaption>{_page_text(number, page_texts.get(number))}"
            "</figure>"
        )
    html = sanitise(
        "".join(figures),
        extra_attributes={"figure": {"id"}, "img": {"loading"}},
    )
    return Result(kind="pdf", html=html, text=words.text(), notes=notes, page_count=shown)


def _page_text(number: int, text: str | None) -> str:
    """A page's words under its picture, folded away: to select and quote (an anchored comment),
    to find in the page, to read with a screen reader or at any size on a phone."""
    if not text or not text.strip():
        return ""
    lines = "<br>".join(escape(line) for line in text.strip().splitlines() if line.strip())
    return (
        f'<details class="cr-preview-page-text"><summary>Text of page {number}</summary>'
        f"<p>{lines}</p></details>"
    )


def _text(document: Any, pages: int) -> tuple[SearchText, int, dict[int, str]]:
    """The words of the first ``pages`` pages for search, how many pages were read (text
    extraction stops at :data:`TEXT_SECONDS` or when :data:`MAX_TEXT_CHARS` are collected), and
    each read page's text by page number."""
    words = SearchText(MAX_TEXT_CHARS)
    page_texts: dict[int, str] = {}
    deadline = time.monotonic() + TEXT_SECONDS
    for index in range(pages):
        if time.monotonic() > deadline:
            return words, index, page_texts
        if words.cut:
            break
        page = document[index]
        try:
            textpage = page.get_textpage()
            try:
                count = textpage.count_chars()
                if count > 0:
                    text = textpage.get_text_range(0, min(count, MAX_PAGE_CHARS))
                    words.add(text)
                    page_texts[index + 1] = text
            finally:
                textpage.close()
        finally:
            page.close()
    return words, pages, page_texts
