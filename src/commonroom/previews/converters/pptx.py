"""Presentations (.pptx): each slide as a section of text.

Shows: for each slide (``<section id="p-<n>">``, n being the slide's number), its title as a
heading, the text of its other shapes (text boxes, placeholders, tables, grouped shapes) as
paragraphs in the order they appear, and the speaker notes when there are any. The words are the
search text. Pictures, charts and layout are not drawn.

Cuts: the first :data:`MAX_SLIDES` slides, :data:`MAX_SHAPES` shapes a slide (groups nested at
most :data:`MAX_DEPTH` deep), :data:`MAX_PARAGRAPH_CHARS` characters a paragraph; each cut is said
in ``notes``.

Refuses: a file whose zip fails :func:`limits.check_zip` (a zip bomb, too many parts) or whose
XML parts declare a DTD (:func:`limits.check_zip_xml`), and a damaged or truncated file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from html import escape
from pathlib import Path
from typing import Any

from commonroom.previews import limits
from commonroom.previews.converters._text import SearchText
from commonroom.previews.converters.base import Refused, Result
from commonroom.previews.html import sanitise

MAX_SLIDES = 1_000
MAX_SHAPES = 500
MAX_DEPTH = 10
MAX_PARAGRAPH_CHARS = 5_000
MAX_TEXT_CHARS = 2_000_000

DAMAGED = "The presentation is damaged or is not a PowerPoint file, so it cannot be previewed."


def convert(source: Path, output: Path) -> Result:
    """The presentation at ``source`` as sections of text (``output`` is unused)."""
    with limits.check_zip(source) as archive:
        limits.check_zip_xml(archive)
    try:
        return _convert(source)
    except Refused:
        raise
    except MemoryError as exc:
        raise Refused("The presentation is too large to preview.") from exc
    except Exception as exc:  # a hostile or damaged file can break the parser in many ways
        raise Refused(DAMAGED) from exc


def _convert(source: Path) -> Result:
    from pptx import Presentation

    presentation = Presentation(str(source))
    slides = presentation.slides
    total = len(slides)
    notes: list[str] = []
    if total > MAX_SLIDES:
        notes.append(f"Showing the first {MAX_SLIDES:,} of {total:,} slides.")
    words = SearchText(MAX_TEXT_CHARS)
    sections = []
    shapes_cut = False
    for number, slide in enumerate(slides, start=1):
        if number > MAX_SLIDES:
            break
        title_shape = slide.shapes.title
        title = _paragraph_text(title_shape.text_frame) if title_shape is not None else ""
        heading = f"Slide {number}" + (f": {title}" if title else "")
        words.add(title)
        body = []
        shapes = list(_limited(_text_shapes(slide.shapes, 0), MAX_SHAPES + 1))
        if len(shapes) > MAX_SHAPES:
            shapes_cut = True
            shapes = shapes[:MAX_SHAPES]
        for shape in shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            for paragraph in _shape_paragraphs(shape):
                body.append(f"<p>{escape(paragraph)}</p>")
                words.add(paragraph)
        speaker = []
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            if frame is not None:
                for paragraph in _frame_paragraphs(frame):
                    speaker.append(f"<p>{escape(paragraph)}</p>")
                    words.add(paragraph)
        if not body and not speaker:
            body.append('<p class="cr-preview-note">This slide has no text.</p>')
        notes_html = (
            f'<aside class="cr-preview-note"><h3>Speaker notes</h3>{"".join(speaker)}</aside>'
            if speaker
            else ""
        )
        sections.append(
            f'<section class="cr-preview-slide" id="p-{number}"><h2>{escape(heading)}</h2>'
            f"{''.join(body)}{notes_html}</section>"
        )
    if shapes_cut:
        notes.append(f"Slides with more than {MAX_SHAPES} shapes show the text of the first ones.")
    if words.cut:
        notes.append("Only the beginning of the presentation's text is searchable.")
    if not sections:
        sections.append('<p class="cr-preview-note">This presentation has no slides.</p>')
    html = sanitise("".join(sections), extra_attributes={"section": {"id"}})
    return Result(kind="slides", html=html, text=words.text(), notes=notes)


def _limited(items: Iterable[Any], limit: int) -> Iterator[Any]:
    for count, item in enumerate(items):
        if count >= limit:
            return
        yield item


def _text_shapes(shapes: Iterable[Any], depth: int) -> Iterator[Any]:
    """Shapes that carry text, groups opened (at most :data:`MAX_DEPTH` deep)."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            if depth < MAX_DEPTH:
                yield from _text_shapes(shape.shapes, depth + 1)
        elif getattr(shape, "has_text_frame", False) or getattr(shape, "has_table", False):
            yield shape


def _shape_paragraphs(shape: Any) -> Iterator[str]:
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells = [_paragraph_text(cell.text_frame) for cell in row.cells]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                yield _clip(line)
    elif shape.has_text_frame:
        yield from _frame_paragraphs(shape.text_frame)


def _frame_paragraphs(frame: Any) -> Iterator[str]:
    for paragraph in frame.paragraphs:
        text = " ".join(paragraph.text.split())
        if text:
            yield _clip(text)


def _paragraph_text(frame: Any) -> str:
    return _clip(" ".join(" ".join(p.text.split()) for p in frame.paragraphs).strip())


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PARAGRAPH_CHARS else text[:MAX_PARAGRAPH_CHARS] + "…"
