"""The document's own pages as a PDF, for the certificate that follows them.

- A .docx, .odt, .doc, .rtf, .pptx or .xlsx is converted by LibreOffice headless
  (``soffice.bin --convert-to pdf``) in a confined child (``soffice_child.py`` through
  ``core.sandbox.run_child``): a throwaway profile in a work folder under the data directory
  (``<data dir>/certificate-work/<host>/``, never the system's temporary folder), a wall-clock
  limit (``COMMONROOM_CERTIFICATE_TIMEOUT``, 120 s) after which its whole process group is
  killed, limits on memory (``COMMONROOM_CERTIFICATE_MEMORY_MB``), CPU and file size, and it
  dies with the thread that started it. The path is ``COMMONROOM_SOFFICE`` (default: ``soffice``
  on the ``PATH``).
- A .pdf is used as it is, once pypdf has opened it and counted at most :data:`MAX_PAGES`.
- Anything else, or an Office file when LibreOffice is absent or fails: the caller's preview
  (its sanitised HTML or its text blocks) as plain paragraphs, and the result says so in a
  sentence the certificate page prints. A conversion failure never fails the certificate, and
  is never passed off as the file itself.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from commonroom.certificates.page import text_pages
from commonroom.core.sandbox import Limits, run_child

log = logging.getLogger(__name__)

OFFICE = frozenset({".docx", ".odt", ".doc", ".rtf", ".pptx", ".xlsx"})
MAX_PAGES = 2000
CHILD_MODULE = "commonroom.certificates.soffice_child"

NOT_AVAILABLE = "Rendered from Commonroom's preview: LibreOffice was not available."
NOT_CONVERTED = "Rendered from Commonroom's preview: LibreOffice could not convert the file."
PDF_UNREADABLE = "Rendered from Commonroom's preview: the PDF could not be read."
PDF_TOO_LONG = f"Rendered from Commonroom's preview: the PDF has over {MAX_PAGES} pages."
FROM_PREVIEW = "Rendered from Commonroom's preview: the file's format is shown as text."


@dataclass(frozen=True)
class Rendered:
    """The document's pages (a PDF), how they were made (``libreoffice``, ``pdf`` or
    ``preview``) and, when not from the file itself, the sentence that says so."""

    pdf: bytes
    pages: int
    how: str
    note: str = ""


def soffice_path() -> Path | None:
    """LibreOffice's program, its symbolic links followed: ``soffice.bin`` beside the
    ``soffice`` script when there is one (one process, killed with its group), else the path
    itself; ``None`` when it is not installed."""
    configured = str(getattr(settings, "COMMONROOM_SOFFICE", "") or "")
    found = configured or shutil.which("soffice")
    if not found:
        return None
    path = Path(found).resolve()
    if not path.is_file():
        return None
    binary = path.with_name("soffice.bin")
    return binary if binary.is_file() else path


def work_root() -> Path:
    """Where conversions work: ``<data dir>/certificate-work/<host>/``."""
    return Path(settings.DATA_DIR) / "certificate-work" / socket.gethostname()


def render_document(
    *,
    data: bytes,
    file_name: str,
    preview_html: str = "",
    preview_blocks: Sequence[str] = (),
) -> Rendered:
    """The file ``data`` (named ``file_name``) as PDF pages; see the module's docstring.
    ``preview_html`` / ``preview_blocks``: the version's preview, for the fallback."""
    suffix = Path(file_name).suffix.lower()
    if suffix == ".pdf":
        pages = pdf_page_count(data)
        if pages is not None and 0 < pages <= MAX_PAGES:
            return Rendered(pdf=data, pages=pages, how="pdf")
        note = PDF_TOO_LONG if pages else PDF_UNREADABLE
        return from_preview(preview_html, preview_blocks, note)
    if suffix not in OFFICE:
        return from_preview(preview_html, preview_blocks, FROM_PREVIEW)
    soffice = soffice_path()
    if soffice is None:
        return from_preview(preview_html, preview_blocks, NOT_AVAILABLE)
    pdf = convert_with_libreoffice(soffice, data, suffix)
    pages = pdf_page_count(pdf) if pdf is not None else None
    if pdf is None or not pages or pages > MAX_PAGES:
        return from_preview(preview_html, preview_blocks, NOT_CONVERTED)
    return Rendered(pdf=pdf, pages=pages, how="libreoffice")


def pdf_page_count(data: bytes) -> int | None:
    """How many pages pypdf finds in ``data``; ``None`` when it cannot read them."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return None
        return len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError, OSError):
        return None


def convert_with_libreoffice(soffice: Path, data: bytes, suffix: str) -> bytes | None:
    """``data`` converted to PDF by LibreOffice in a confined child; ``None`` when it could
    not be (logged). Never raises."""
    folder = work_root() / uuid.uuid4().hex
    try:
        folder.mkdir(mode=0o700, parents=True)
        source = folder / f"document{suffix}"
        source.write_bytes(data)
        outdir = folder / "out"
        outdir.mkdir(mode=0o700)
        seconds = int(settings.COMMONROOM_CERTIFICATE_TIMEOUT)
        run = run_child(
            CHILD_MODULE,
            [str(soffice), str(source), str(outdir)],
            work=folder,
            limits=Limits(
                seconds=seconds,
                memory_mb=int(settings.COMMONROOM_CERTIFICATE_MEMORY_MB),
                file_mb=512,
            ),
        )
        if run.timed_out:
            log.warning("certificates: LibreOffice stopped after %s s", seconds)
            return None
        answer = run.answer or {}
        if run.code != 0 or not answer.get("ok"):
            log.warning(
                "certificates: LibreOffice could not convert a %s file (%s, %s): %s",
                suffix,
                run.code,
                answer,
                run.errors[-500:],
            )
            return None
        output = outdir / "document.pdf"
        if output.is_symlink() or not output.is_file():
            return None
        return output.read_bytes()
    except OSError:
        log.exception("certificates: LibreOffice could not be run")
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Blocks(HTMLParser):
    """The text of each block of a sanitised preview (paragraphs, headings, list items, table
    rows), in order."""

    BLOCKS = frozenset(
        {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "pre", "blockquote", "div"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self._flush()
        elif tag in {"td", "th", "br"}:
            self._current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        self._current.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def preview_paragraphs(html: str) -> list[str]:
    """The text blocks of a preview's sanitised HTML."""
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    return parser.blocks


def from_preview(html: str, blocks: Sequence[str], note: str) -> Rendered:
    """The preview's text as plain pages, with ``note`` saying why."""
    paragraphs = list(blocks) or preview_paragraphs(html)
    if not paragraphs:
        paragraphs = ["(The preview has no text.)"]
    pdf, pages = text_pages(paragraphs, heading=note)
    return Rendered(pdf=pdf, pages=pages, how="preview", note=note)
