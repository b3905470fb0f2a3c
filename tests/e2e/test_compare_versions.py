"""Comparing two versions of the minutes in Chromium, at a desk and on a phone: the redline
shows what Tom changed, word by word, inline and side by side."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.core.demo import minutes_docx
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_comparison_shows_the_changed_words(
    new_page: Any, page_problems: Any, viewport: dict[str, int]
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    tom = UserFactory(email="tom@example.org", full_name="Tom Evans")
    ws = make_workspace(manager=priya)
    add_member(ws, tom, "editor")
    doc = upload_document(ws, priya, name="minutes.docx", content=minutes_docx(amended=False))
    version_upload(
        actor=tom,
        doc_access=document_access(user=tom, workspace_id=ws.pk, document_id=doc.pk),
        uploaded=SimpleUploadedFile("minutes.docx", minutes_docx(amended=True)),
        based_on_number=1,
    )
    # Both previews were made when their uploads committed (tasks run at once in tests).
    assert Preview.objects.filter(status=PreviewStatus.READY).count() == 2

    page = new_page("Priya", viewport=viewport)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    page.get_by_role("link", name="Compare with the previous version").first.click()
    expect(page.get_by_role("heading", name="Version 1 against version 2")).to_be_visible()
    expect(page.get_by_text("words added")).to_be_visible()
    redline = page.locator("main")
    expect(redline.locator("del", has_text="£2.4m")).to_have_count(1)
    expect(redline.locator("ins", has_text="£2.6m")).to_have_count(1)
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

    page.get_by_label("Show").select_option(index=1)  # side by side
    page.get_by_role("button", name="Compare").click()
    expect(redline.locator("ins", has_text="£2.6m").first).to_be_visible()
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []
    assert page_problems.seen == []
