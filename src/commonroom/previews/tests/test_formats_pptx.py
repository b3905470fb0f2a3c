"""The presentation converter, on presentations the tests build: slides as sections with their
titles, text and notes; a zip bomb and a truncated file refused."""

from __future__ import annotations

import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Inches

from commonroom.previews.converters import pptx
from commonroom.previews.converters.base import Refused


def deck(path: Path) -> Path:
    presentation = Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])  # title and content
    first.shapes.title.text = "Winter pressures"
    first.placeholders[1].text_frame.text = "Beds open: 40"
    first.placeholders[1].text_frame.add_paragraph().text = "<script>alert(1)</script>"
    first.notes_slide.notes_text_frame.text = "Mention the escalation plan"

    second = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    second.shapes.title.text = "Staffing"
    group = second.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1))
    box.text_frame.text = "Agency spend down 12%"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    table.cell(0, 0).text = "Ward"
    table.cell(0, 1).text = "Vacancies"
    table.cell(1, 0).text = "Ward 7"
    table.cell(1, 1).text = "3"

    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank
    presentation.save(str(path))
    return path


def test_slides_are_sections_with_title_text_and_notes(tmp_path):
    result = pptx.convert(deck(tmp_path / "deck.pptx"), tmp_path)

    assert result.kind == "slides"
    assert result.notes == []
    html = result.html
    assert re.findall(r'<section class="cr-preview-slide" id="(p-\d+)"', html) == [
        "p-1",
        "p-2",
        "p-3",
    ]
    assert "<h2>Slide 1: Winter pressures</h2>" in html
    assert "<p>Beds open: 40</p>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "<h3>Speaker notes</h3><p>Mention the escalation plan</p>" in html
    assert "<h2>Slide 2: Staffing</h2>" in html
    assert "<p>Agency spend down 12%</p>" in html  # inside a group
    assert "<p>Ward | Vacancies</p>" in html and "<p>Ward 7 | 3</p>" in html
    assert "<h2>Slide 3</h2>" in html and "This slide has no text." in html
    # The title is the heading, not repeated as a paragraph.
    assert html.count("Winter pressures") == 1
    for words in ("Winter pressures", "Beds open", "escalation plan", "Ward 7"):
        assert words in result.text


def test_slides_beyond_the_limit_are_cut_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(pptx, "MAX_SLIDES", 2)

    result = pptx.convert(deck(tmp_path / "deck.pptx"), tmp_path)

    assert result.notes == ["Showing the first 2 of 3 slides."]
    assert 'id="p-2"' in result.html and 'id="p-3"' not in result.html


def test_a_zip_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    template = deck(tmp_path / "deck.pptx")
    bomb = tmp_path / "bomb.pptx"
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == "ppt/slides/slide1.xml":
                with dst.open(info.filename, "w", force_zip64=True) as out:
                    for _ in range(150):
                        out.write(chunk)
            else:
                dst.writestr(info.filename, src.read(info))
    assert bomb.stat().st_size < 1024 * 1024

    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Refused, match="expands to far more than its size"):
            pptx.convert(bomb, tmp_path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 5 * 1024 * 1024


def test_an_entity_declaration_is_refused(tmp_path):
    template = deck(tmp_path / "deck.pptx")
    target = tmp_path / "laughs.pptx"
    with (
        zipfile.ZipFile(template) as src,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "ppt/slides/slide1.xml":
                data = re.sub(
                    rb"^<\?xml[^>]*\?>\s*",
                    b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n',
                    data,
                ).replace(b"Beds open: 40", b"&b;")
            dst.writestr(info.filename, data)

    with pytest.raises(Refused, match="entity declarations"):
        pptx.convert(target, tmp_path)


def test_a_truncated_presentation_is_refused_with_a_message(tmp_path):
    data = deck(tmp_path / "deck.pptx").read_bytes()
    target = tmp_path / "cut.pptx"
    target.write_bytes(data[: len(data) // 2])

    with pytest.raises(Refused, match="damaged"):
        pptx.convert(target, tmp_path)


def test_a_zip_that_is_not_a_presentation_is_refused(tmp_path):
    target = tmp_path / "other.pptx"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("hello.txt", "not slides")

    with pytest.raises(Refused, match="not a PowerPoint file"):
        pptx.convert(target, tmp_path)
