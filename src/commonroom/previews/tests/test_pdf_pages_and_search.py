"""A PDF's pages are drawn when first read, then kept; a made preview's words are searchable."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfWriter

from commonroom.previews.models import Preview, PreviewFile, PreviewStatus
from commonroom.previews.tests import files
from commonroom.search.selectors import search
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def three_pages() -> bytes:
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_url(team: Any, doc: Any, name: str) -> str:
    return reverse("preview_file", args=[team.workspace.pk, doc.pk, 1, name])


def test_a_pdf_page_is_drawn_once_when_first_read_and_only_for_members(
    team: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from commonroom.previews import services

    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="board.pdf", content=three_pages())
    drawn: list[str] = []
    real = services.run_converter

    def counting(fmt: str, *args: Any, **kwargs: Any) -> Any:
        drawn.append(fmt)
        return real(fmt, *args, **kwargs)

    monkeypatch.setattr(services, "run_converter", counting)
    preview = Preview.objects.get(blob__versions__document=doc)
    assert (preview.status, preview.kind, preview.page_count) == (PreviewStatus.READY, "pdf", 3)
    assert not PreviewFile.objects.filter(preview=preview).exists()  # nothing drawn yet

    outsider = Client()
    outsider.force_login(team.outsider)
    assert outsider.get(page_url(team, doc, "page-2.png")).status_code == 404
    assert not PreviewFile.objects.exists() and drawn == []

    reader = Client()
    reader.force_login(team.viewer)
    page = reader.get(page_url(team, doc, "page-2.png"))
    assert page.status_code == 200
    assert page["Content-Type"] == "image/png"
    picture = page.getvalue()  # a file response's content can be read once
    assert picture.startswith(b"\x89PNG")
    assert list(preview.files.values_list("name", flat=True)) == ["page-2.png"]
    assert drawn == ["pdf-page-2"]
    # Kept: a second reader gets the same picture, drawn no more.
    other = Client()
    other.force_login(team.editor)
    again = other.get(page_url(team, doc, "page-2.png"))
    assert again.status_code == 200
    assert again.getvalue() == picture
    assert preview.files.count() == 1
    assert drawn == ["pdf-page-2"]
    # Pages that are not in the document, and other names, are not found.
    for name in ("page-4.png", "page-0.png", "page-1.jpg", "page-01.png", "page-1.png.exe"):
        assert reader.get(page_url(team, doc, name)).status_code == 404, name
    assert drawn == ["pdf-page-2"]  # and none of them started a drawing
    # The page shows each page's picture at the drawing route.
    html = reader.get(reverse("document_detail", args=[team.workspace.pk, doc.pk])).content
    assert page_url(team, doc, "page-3.png").encode() in html


def test_the_words_of_a_made_preview_are_found_by_search(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=content)
    preview = Preview.objects.get(blob__versions__document=doc)
    word = next(w for w in preview.text.split() if w.isalpha() and len(w) > 5)
    hits = search(user=team.viewer, q=word).hits
    assert [h.title for h in hits if h.kind == "document"] == ["minutes.docx"]
    assert search(user=team.outsider, q=word).hits == []


def test_an_svg_is_not_drawn_and_says_why(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    drawing = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="logo.svg", content=drawing)
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.FAILED
    assert "SVG drawings are not previewed" in preview.message
    reader = Client()
    reader.force_login(team.viewer)
    page = reader.get(reverse("document_detail", args=[team.workspace.pk, doc.pk])).content
    assert b"SVG drawings are not previewed" in page
    assert b"<script>alert(1)" not in page


def test_a_documents_headings_sit_below_the_pages_own(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=content)
    assert "<h1" in Preview.objects.get(blob__versions__document=doc).html
    reader = Client()
    reader.force_login(team.viewer)
    page = reader.get(reverse("document_detail", args=[team.workspace.pk, doc.pk])).content
    assert page.count(b"<h1") == 1  # the document's name
    assert b"<h3" in page


def test_a_preview_whose_task_was_lost_is_made_by_the_requeue(team: Any, monkeypatch: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.previews import services
    from commonroom.previews.tasks import requeue_stuck_previews

    # The upload's task is lost: nothing runs when it commits.
    monkeypatch.setattr(services, "_enqueue", lambda sha: None)
    doc = upload_document(team.workspace, team.manager, name="notes.txt", content=b"Lost task")
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.PENDING
    monkeypatch.undo()
    # Just asked for, it is left alone; a few minutes on, the worker's housekeeping makes it.
    assert services.previews_requeue_stuck() == 0
    Preview.objects.filter(pk=preview.pk).update(created_at=timezone.now() - timedelta(hours=2))
    requeue_stuck_previews.enqueue()  # tasks run at once in tests
    preview.refresh_from_db()
    assert preview.status == PreviewStatus.READY
    assert "Lost task" in preview.text


def test_one_reader_cannot_have_pages_drawn_without_limit(
    team: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from commonroom.previews import services

    monkeypatch.setattr(services, "PDF_PAGES_PER_MINUTE", 2)
    # One minute throughout, whenever the test runs (a new minute would start a new budget).
    minute = services._budget_minute()
    monkeypatch.setattr(services, "_budget_minute", lambda: minute)
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="board.pdf", content=three_pages())
    reader = Client()
    reader.force_login(team.viewer)
    assert reader.get(page_url(team, doc, "page-1.png")).status_code == 200
    assert reader.get(page_url(team, doc, "page-2.png")).status_code == 200
    refused = reader.get(page_url(team, doc, "page-3.png"))
    assert refused.status_code == 429
    # Pages already drawn cost nothing and are still served; another reader has a budget.
    assert reader.get(page_url(team, doc, "page-1.png")).status_code == 200
    other = Client()
    other.force_login(team.editor)
    assert other.get(page_url(team, doc, "page-3.png")).status_code == 200
