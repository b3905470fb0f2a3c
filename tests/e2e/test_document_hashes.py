"""The document page's SHA-256 of each version reads as plain information: the text colour on
light grey, not NHS.UK's red for inline code, which looks like an error."""

from __future__ import annotations

from typing import Any

from e2e_support import sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.workspaces.tests.factories import make_workspace, upload_document

TEXT = "rgb(33, 43, 50)"  # #212b32, NHS.UK's text colour
ERROR_RED = "rgb(213, 40, 27)"  # #d5281b


def test_a_versions_hash_is_shown_in_the_text_colour_on_grey(
    new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(ws, priya, name="minutes.txt", content=b"Minutes")

    page = new_page("Priya")
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    digest = page.locator("code.cr-hash").first
    expect(digest).to_have_text(doc.versions.get().blob_id)
    color, background = digest.evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    )
    assert color == TEXT and color != ERROR_RED
    assert background == "rgb(240, 244, 245)"  # #f0f4f5, a light grey
    assert page_problems.seen == []
