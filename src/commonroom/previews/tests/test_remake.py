"""``commonroom previews_remake``: finished previews are made again with today's converters; a
ready one is replaced only by a ready one, and pages drawn from the old one go with it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from commonroom.previews import services
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.sandbox import Outcome
from commonroom.previews.tests import files
from commonroom.previews.tests.test_formats_pdf import text_pdf
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def uploaded(team: Any, capture: Any, name: str, content: bytes) -> tuple[Any, Preview]:
    with capture(execute=True):
        doc = upload_document(team.workspace, team.manager, name=name, content=content)
    return doc, Preview.objects.get(blob__versions__document=doc)


def test_remade_with_todays_converter_and_old_pages_go(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    pdf = text_pdf(tmp_path / "r.pdf", ["Falls fell again", "Beds"]).read_bytes()
    doc, preview = uploaded(team, django_capture_on_commit_callbacks, "report.pdf", pdf)
    word, _ = uploaded(
        team,
        django_capture_on_commit_callbacks,
        "m.docx",
        files.rich_docx(tmp_path / "m.docx").read_bytes(),
    )
    reader = Client()
    reader.force_login(team.viewer)
    page = reverse("preview_file", args=[team.workspace.pk, doc.pk, 1, "page-1.png"])
    assert reader.get(page).status_code == 200
    drawn = preview.files.get().storage_name
    # As an earlier release left it: no page text.
    Preview.objects.filter(pk=preview.pk).update(html='<figure id="p-1">old</figure>')
    docx_before = Preview.objects.get(blob__versions__document=word).made_at

    with django_capture_on_commit_callbacks(execute=True):
        call_command("previews_remake", "--format", "pdf", stdout=io.StringIO())

    preview.refresh_from_db()
    assert preview.status == PreviewStatus.READY
    assert "<summary>Text of page 1</summary><p>Falls fell again</p>" in preview.html
    assert not preview.files.exists() and not default_storage.exists(drawn)
    assert reader.get(page).status_code == 200  # drawn again when read
    # Only PDFs were asked for.
    assert Preview.objects.get(blob__versions__document=word).made_at == docx_before


def test_a_failed_remake_keeps_the_ready_preview(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    _, preview = uploaded(team, django_capture_on_commit_callbacks, "n.md", b"# Minutes\n\nAgreed.")
    before = preview.html
    monkeypatch.setattr(
        services, "_convert", lambda version, fmt, **kw: (Outcome(ok=False, message="x"), [])
    )
    assert services.previews_remake() == 1
    preview.refresh_from_db()
    assert (preview.status, preview.html) == (PreviewStatus.READY, before)


def test_a_failed_preview_is_made_when_the_converter_can_now(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _, preview = uploaded(team, django_capture_on_commit_callbacks, "n.txt", b"Apologies: Tom")
    Preview.objects.filter(pk=preview.pk).update(
        status=PreviewStatus.FAILED, html="", message="It failed before."
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.previews_remake(formats=["txt"]) == 1
    preview.refresh_from_db()
    assert preview.status == PreviewStatus.READY and "Apologies: Tom" in preview.html


def test_an_unknown_format_is_refused_by_the_command() -> None:
    with pytest.raises(Exception, match="invalid choice"):
        call_command("previews_remake", "--format", "exe")
