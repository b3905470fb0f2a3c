"""What every converter is: a function from a file on disk to a :class:`Result`, run inside the
sandbox (a child process with memory, CPU and time limits: see ``previews/sandbox.py``).

A converter never trusts its input. It checks what it can before parsing (``previews/limits.py``:
zip members, sizes, page and pixel counts), refuses with :class:`Refused` and a sentence for
people, and returns HTML that is already sanitised (``previews/html.py``), with ``id="p-<n>"``
on each paragraph-level block so comments can point at a passage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any


class Refused(Exception):
    """The file cannot be previewed; ``str(exc)`` says why, in words for the reader."""


@dataclass
class OutputFile:
    """A file the converter wrote into its output folder (an embedded image, a page image),
    referred to from the HTML as ``{{file:<name>}}``, which the app turns into a URL that checks
    the reader's access."""

    name: str  # a simple name, [A-Za-z0-9._-] only, unique within the preview
    content_type: str


@dataclass
class Result:
    kind: str  # "html" (documents, text), "table" (sheets), "slides", "image", "pdf"
    html: str = ""  # sanitised; blocks carry id="p-<n>"
    text: str = ""  # the words, for search
    notes: list[str] = field(default_factory=list)  # e.g. "Showing the first 200 of 5,000 rows."
    files: list[OutputFile] = field(default_factory=list)
    page_count: int | None = None  # PDFs: pages are rendered later, one at a time, on demand
    # Word files: how many tracked changes the file holds (None: not a kind that has them).
    revisions: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Converter = Callable[[Path, Path], Result]  # (source file, output folder) -> Result


LONG_CELL = 40  # characters: a longer cell of a sheet wraps within a bounded width


def cell_html(text: str, tag: str = "td") -> str:
    """One cell of a sheet (.xlsx, .csv). Cells do not wrap, as in a spreadsheet; a long one is
    marked so that it wraps within a column of readable width instead of widening the table."""
    content = escape(text)
    if len(text) > LONG_CELL:
        content = f'<span class="cr-cell-long">{content}</span>'
    return f"<{tag}>{content}</{tag}>"
