"""Word (.docx) to sanitised HTML with mammoth, after the zip and every XML part are checked.

mammoth keeps headings, lists, tables, bold/italic, links and images, but drops tracked changes
(it keeps insertions as plain text and leaves deletions out) and Word comments. So that readers
are not misled, ``word/document.xml`` is read here first (lxml, no DTD, no entities): when it has
tracked changes, a copy of the file is made whose inserted runs carry the style ``CrInserted`` and
deleted runs ``CrDeleted`` (as ordinary text), which the style map turns into ``<ins>``/``<del>``,
with a note counting them; comments (``word/comments.xml``) are listed under the document with
their authors. Every tracked change of the file (headers, footers, footnotes and formatting
changes too) is counted on the result (``Result.revisions``), so a page can offer to accept them
all. The document's pages, with their numbers, headers and footers, are read by ``docx_pages``
and placed between the body's blocks, never renumbering or entering one.
"""

from __future__ import annotations

import html
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import mammoth

from commonroom.office.package import OfficeFileError
from commonroom.office.wordedit import tracked_revisions
from commonroom.previews.converters import docx_pages
from commonroom.previews.converters.base import OutputFile, Refused, Result
from commonroom.previews.html import document_html
from commonroom.previews.limits import (
    check_zip,
    check_zip_xml,
    parse_xml,
    read_capped,
    read_member,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MAX_IMAGES = 500
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_COMMENTS = 1_000
# Word's own styles that mammoth leaves as plain paragraphs: a title reads as the top heading,
# a subtitle as the next, quotes as quotes. Then the tracked changes' marks.
STYLE_MAP = "\n".join(
    [
        "p[style-name='Title'] => h1:fresh",
        "p[style-name='Subtitle'] => h2:fresh",
        "p[style-name='Quote'] => blockquote > p:fresh",
        "p[style-name='Intense Quote'] => blockquote > p:fresh",
        "r.CrInserted => ins",
        "r.CrDeleted => del",
    ]
)
# Raster types a browser shows, told by their first bytes (never by the file's own claim).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _image_type(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, ext in _SIGNATURES:
        if data.startswith(magic):
            return content_type, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def _mark_changes(root: Any) -> tuple[int, int]:
    """Mark tracked insertions and deletions in ``root`` (document.xml) for the style map, and
    unwrap them so mammoth reads their runs. Returns (insertions, deletions)."""
    inserted = deleted = 0
    for tag, style in (("ins", "CrInserted"), ("moveTo", "CrInserted"), ("del", "CrDeleted"),
                       ("moveFrom", "CrDeleted")):  # fmt: skip
        for change in list(root.iter(_w(tag))):
            parent = change.getparent()
            if parent is None or parent.tag == _w("rPr") or parent.tag == _w("pPr"):
                continue  # a changed paragraph mark or formatting, not text
            runs = list(change.iter(_w("r")))
            if not runs:
                continue
            if style == "CrInserted":
                inserted += 1
            else:
                deleted += 1
            for run in runs:
                props = run.find(_w("rPr"))
                if props is None:
                    props = run.makeelement(_w("rPr"), {})
                    run.insert(0, props)
                for old in props.findall(_w("rStyle")):
                    props.remove(old)
                props.insert(0, props.makeelement(_w("rStyle"), {_w("val"): style}))
                for gone in run.iter(_w("delText")):
                    gone.tag = _w("t")
            index = parent.index(change)
            for offset, child in enumerate(list(change)):
                parent.insert(index + offset, child)
            parent.remove(change)
    return inserted, deleted


def _comments(archive: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    if "word/comments.xml" not in archive.namelist():
        return []
    root = parse_xml(read_member(archive, "word/comments.xml"))
    found = []
    for comment in root.iter(_w("comment")):
        paragraphs = ["".join(t.text or "" for t in p.iter(_w("t"))) for p in comment.iter(_w("p"))]
        found.append(
            (
                comment.get(_w("author")) or "Someone",
                (comment.get(_w("date")) or "")[:10],
                "\n".join(paragraphs).strip(),
            )
        )
        if len(found) >= MAX_COMMENTS:
            break
    return found


def _comments_html(comments: list[tuple[str, str, str]]) -> str:
    items = "".join(
        '<li class="cr-preview-comment"><p><strong class="cr-preview-author">'
        f"{html.escape(author)}</strong>{' · ' + html.escape(date) if date else ''}</p>"
        f"<p>{html.escape(text).replace(chr(10), '<br>')}</p></li>"
        for author, date, text in comments
    )
    return (
        '<section class="cr-preview-comments"><h2>Comments in the Word document</h2>'
        f"<ol>{items}</ol></section>"
    )


def _copy_with(archive: zipfile.ZipFile, replaced: dict[str, bytes], target: Path) -> None:
    """A copy of the checked archive, every part read through the caps, some replaced."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in archive.infolist():
            data = replaced.get(info.filename)
            out.writestr(
                info.filename, data if data is not None else read_member(archive, info.filename)
            )


def _revisions(source: Path) -> int | None:
    """How many tracked changes the file holds in its body, headers, footers, footnotes and
    comments, counted as accepting them all would meet them (``office.wordedit``); ``None``
    when that reader refuses the file (then nothing offers to accept them)."""
    try:
        return tracked_revisions(source.read_bytes()).total
    except OfficeFileError:
        return None


def convert(source: Path, outdir: Path) -> Result:
    from lxml import etree

    archive = check_zip(source)
    with archive:
        if "word/document.xml" not in archive.namelist():
            raise Refused("The file is not a Word document.")
        check_zip_xml(archive)  # before any library parses a part
        revisions = _revisions(source)
        root = parse_xml(read_member(archive, "word/document.xml"))
        inserted, deleted = _mark_changes(root)
        pages = docx_pages.read_pages(archive, root)
        if pages.shown:
            docx_pages.mark_pages(root, pages)
        comments = _comments(archive)
        notes: list[str] = []
        files: list[OutputFile] = []
        skipped = 0

        def image(img: Any) -> dict[str, str]:
            nonlocal skipped
            with img.open() as stream:
                data = read_capped(stream, MAX_IMAGE_BYTES)
            kind = _image_type(data)
            if kind is None or len(files) >= MAX_IMAGES:
                skipped += 1
                return {"alt": img.alt_text or "(an image that cannot be shown here)"}
            name = f"image{len(files) + 1}.{kind[1]}"
            (outdir / name).write_bytes(data)
            files.append(OutputFile(name=name, content_type=kind[0]))
            # Every picture is described: its own description, else a plain one (WCAG 1.1.1).
            alt = (img.alt_text or "").strip() or f"Picture {len(files)} in the document"
            return {"src": "{{file:" + name + "}}", "alt": alt}

        with tempfile.TemporaryDirectory() as work:
            readable = source
            if inserted or deleted or pages.shown:
                readable = Path(work) / "marked.docx"
                _copy_with(archive, {"word/document.xml": etree.tostring(root)}, readable)
            try:
                with readable.open("rb") as f:
                    converted = mammoth.convert_to_html(
                        f,
                        style_map=STYLE_MAP,
                        convert_image=mammoth.images.img_element(image),
                    )
            except (KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise Refused(
                    "The file is damaged: it could not be read as a Word document."
                ) from exc
    body = converted.value
    plain = body
    if pages.shown:
        body, plain = docx_pages.place_pages(body, pages)
    if inserted or deleted:
        notes.append(
            f"This document has {inserted} tracked insertion{'s' if inserted != 1 else ''} and "
            f"{deleted} deletion{'s' if deleted != 1 else ''}: inserted text is underlined, "
            "deleted text struck through."
        )
    unseen = (revisions or 0) - inserted - deleted
    if unseen > 0:
        notes.append(
            f"{'It also has' if inserted or deleted else 'This document has'} {unseen} tracked "
            f"change{'s' if unseen != 1 else ''} the preview does not show (to formatting, "
            "paragraph marks, tables, headers, footers or notes)."
        )
    if comments:
        notes.append(
            f"This document has {len(comments)} Word comment{'s' if len(comments) != 1 else ''}, "
            "listed after it."
        )
        body += _comments_html(comments)
        plain += _comments_html(comments)
    if skipped:
        notes.append(
            f"{skipped} image{'s' if skipped != 1 else ''} in this document cannot be shown."
        )
    if pages.shown:
        notes.extend(docx_pages.notes(pages))
    if not body.strip():
        notes.append("The document is empty.")
    safe = document_html(body)
    words = html.unescape(re.sub(r"<[^>]+>", " ", document_html(plain) if pages.shown else safe))
    if pages.shown:
        words += " " + docx_pages.header_words(pages)
    return Result(
        kind="html",
        html=safe,
        text=re.sub(r"\s+", " ", words).strip(),
        notes=notes,
        files=files,
        revisions=revisions,
    )
