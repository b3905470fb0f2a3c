"""The preview's contents: its headings and a Word document's pages, each linking to the block
it leads to, shown above the preview to members only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.previews.converters import docx
from commonroom.previews.outline import Heading, PageStart, outline_of
from commonroom.previews.tests.test_docx_pages import MARKED, MARKED_SECTION, _p, build
from commonroom.workspaces.tests.factories import upload_document


def _heading(level: int, text: str) -> str:
    return (
        f'<w:p><w:pPr><w:pStyle w:val="Heading{level}"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>'
    )


def agenda(path: Path) -> Path:
    body = (
        _heading(1, "Board agenda")
        + _p("Welcome.")
        + _heading(2, "Item 1 &amp; apologies")
        + _p("None.", props="<w:pageBreakBefore/>")
        + _heading(2, "Item 2: finance")
        + _p("", '<w:br w:type="page"/>')
        + _p("Figures.")
    )
    return build(path, body, parts=MARKED, section=MARKED_SECTION)


def test_the_outline_of_a_word_document(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    html = docx.convert(agenda(tmp_path / "agenda.docx"), out).html
    found = outline_of(html)
    assert found.headings == [
        Heading("p-1", 1, "Board agenda"),
        Heading("p-3", 2, "Item 1 & apologies"),
        Heading("p-5", 2, "Item 2: finance"),
    ]
    assert found.pages == [PageStart(1, "p-1"), PageStart(2, "p-4"), PageStart(3, "p-6")]
    assert found.shown


def test_a_short_text_has_no_contents() -> None:
    found = outline_of('<h1 id="p-1">Only one</h1><p id="p-2">Text.</p>')
    assert found.headings == [Heading("p-1", 1, "Only one")] and not found.shown
    long = outline_of(f'<h2 id="p-1">{"word " * 60}</h2><h2 id="p-2">B</h2>')
    assert len(long.headings[0].text) == 120 and long.headings[0].text.endswith("…")


@pytest.mark.django_db
def test_the_document_page_lists_the_contents_for_members_only(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace,
            team.manager,
            name="agenda.docx",
            content=agenda(tmp_path / "agenda.docx").read_bytes(),
        )
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    reader = Client()
    reader.force_login(team.viewer)
    page = reader.get(url).content.decode()
    assert "Contents and pages" in page
    assert '<a class="nhsuk-link" href="#p-3" data-preview-jump>Item 1 &amp; apologies</a>' in page
    assert (
        '<a class="nhsuk-link" href="#p-6" data-preview-jump>'
        '<span class="nhsuk-u-visually-hidden">Page </span>3</a>'
    ) in page
    assert "OFFICIAL-SENSITIVE" in page
    outsider = Client()
    outsider.force_login(team.outsider)
    answer = outsider.get(url)
    assert answer.status_code == 404 and b"apologies" not in answer.content


def test_a_pdf_s_pages_are_its_outline(tmp_path: Path) -> None:
    from commonroom.previews.converters import pdf
    from commonroom.previews.tests.test_formats_pdf import text_pdf

    out = tmp_path / "out"
    out.mkdir()
    source = text_pdf(tmp_path / "board.pdf", ["One", "Two", "Three"])
    found = outline_of(pdf.convert(source, out).html)
    assert found.pages == [PageStart(1, "p-1"), PageStart(2, "p-2"), PageStart(3, "p-3")]
    assert found.headings == [] and found.shown
