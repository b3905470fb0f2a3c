"""A preview's outline, for moving around it from the keyboard: its headings and, for a Word
document or a PDF, its pages (``converters/docx_pages.py``; a PDF's page is its own block,
``converters/pdf.py``), each with the anchored block (``p-<n>``) it leads to. Read from the
stored, sanitised HTML, whose tags the sanitiser wrote (so found exactly by pattern, without
parsing the whole document on every view)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

MAX_HEADINGS = 500
MAX_PAGES = 2_000
MAX_TEXT = 120  # characters of a heading shown in the contents

_HEADING = re.compile(r'<h([1-6]) id="(p-[0-9]{1,7})"[^>]*>(.*?)</h\1>', re.DOTALL)
_PAGE = re.compile(r'<div class="cr-preview-page-number">Page ([0-9]{1,7})</div>')
_PDF_PAGE = re.compile(r'<figure class="cr-preview-page" id="p-([0-9]{1,7})">')
_BLOCK = re.compile(r' id="(p-[0-9]{1,7})"')
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Heading:
    id: str
    level: int  # the document's own (1-6), before the page moves it below its headings
    text: str


@dataclass(frozen=True)
class PageStart:
    number: int  # as printed on the page
    id: str  # its first anchored block


@dataclass
class Outline:
    headings: list[Heading] = field(default_factory=list)
    pages: list[PageStart] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        """Worth a contents list: two headings or more, or more than one page."""
        return len(self.headings) > 1 or len(self.pages) > 1


def outline_of(preview_html: str) -> Outline:
    """The headings and page starts of a preview's sanitised HTML (as stored)."""
    found = Outline()
    for match in _HEADING.finditer(preview_html):
        text = " ".join(html.unescape(_TAGS.sub(" ", match.group(3))).split())
        if text:
            cut = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1].rstrip() + "…"
            found.headings.append(Heading(match.group(2), int(match.group(1)), cut))
        if len(found.headings) >= MAX_HEADINGS:
            break
    for match in _PAGE.finditer(preview_html):
        block = _BLOCK.search(preview_html, match.end())
        if block is not None and not any(p.id == block.group(1) for p in found.pages[-1:]):
            found.pages.append(PageStart(int(match.group(1)), block.group(1)))
        if len(found.pages) >= MAX_PAGES:
            break
    if not found.pages:
        for match in _PDF_PAGE.finditer(preview_html):
            found.pages.append(PageStart(int(match.group(1)), f"p-{match.group(1)}"))
            if len(found.pages) >= MAX_PAGES:
                break
    return found
