"""Comparing two versions in Chromium, at a desk and on a phone: the redline of the minutes shows
what Tom changed, word by word, inline and side by side, with the minutes' headings, list and
table cells shown as such; the comparison of a presentation shows it
slide by slide (added, removed, moved and edited), without the page scrolling sideways."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.demo.seed import minutes_docx
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.tests.files import pptx_bytes
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def shows_what_each_paragraph_is(page: Any, *, side: bool = False) -> None:
    """The minutes' headings are headings (below the page's own), their actions a list, and the
    figure Tom changed stands in its table (inline: in its cell of the table; side by side: it
    says where)."""
    main = page.locator("main")
    for name in ("Weekly budget meeting — minutes", "2. Month 7 position", "3. Actions"):
        expect(main.get_by_role("heading", name=name, exact=True)).to_have_count(1)
        expect(main.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(main.get_by_role("heading", name="2. Month 7 position")).to_have_js_property(
        "tagName", "H4"
    )
    added = main.get_by_role("list").get_by_role("listitem").filter(has_text="Aisha asked")
    expect(added.locator("ins")).to_be_visible()
    changed = main.locator("p").filter(has=page.locator("ins", has_text="-1,120"))
    expect(changed).to_have_count(1)
    expect(changed).to_be_visible()
    if not side:
        table = main.get_by_role("region", name="Table, compared cell by cell").get_by_role("table")
        cell = table.get_by_role("cell").filter(has=page.locator("ins", has_text="-1,120"))
        expect(cell.locator("del")).to_have_text("-1,020")
        row = table.get_by_role("row").filter(has=page.locator("ins", has_text="-1,120"))
        expect(row.get_by_role("cell").first).to_have_text("Medicine")
        column = cell.evaluate("td => td.cellIndex")
        expect(table.get_by_role("row").first.get_by_role("cell").nth(column)).to_have_text(
            "Actual (£k)"
        )
        return
    expect(changed).to_contain_text("Table · Medicine · Actual (£k)")
    old = main.locator("p").filter(has=page.locator("del", has_text="-1,020"))
    expect(old).to_contain_text("Table · Medicine · Actual (£k)")


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
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    page.get_by_role("link", name="Compare with the previous version").first.click()
    expect(page.get_by_role("heading", name="Version 1 against version 2")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("20 words added, 4 removed in 4 paragraphs")
    redline = page.locator("main")
    expect(redline.locator("del", has_text="£2.4m")).to_have_count(1)
    expect(redline.locator("ins", has_text="£2.6m")).to_have_count(1)
    shows_what_each_paragraph_is(page)
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

    page.get_by_label("Show").select_option(index=1)  # side by side
    page.get_by_role("button", name="Compare").click()
    expect(redline.locator("ins", has_text="£2.6m").first).to_be_visible()
    shows_what_each_paragraph_is(page, side=True)
    # Stacked on a phone, each side of a changed paragraph says which version it is; in
    # columns the columns' heads say it.
    changed = page.locator(".cr-compare--changed").first
    for label in (changed.locator(".cr-compare-side__label").nth(n) for n in (0, 1)):
        if viewport is PHONE:
            expect(label).to_be_visible()
        else:
            assert label.bounding_box() is not None and label.bounding_box()["width"] <= 1
    expect(changed.locator(".cr-compare-side__label").first).to_have_text("Version 1:")
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []
    assert page_problems.seen == []


LONG_ADDRESS = "https://www.example.org/winter-pressures/escalation-plan-for-every-ward-2026"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_presentation_compared_slide_by_slide(
    new_page: Any, page_problems: Any, viewport: dict[str, int]
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    v1 = pptx_bytes(
        [
            ("Winter pressures", ["Beds open: 40", "Staff are tired"], ["Mention the plan"]),
            ("Budget", ["Agency spend fell by twelve percent over the winter months"], []),
            ("Retired slide", ["Nobody needs this"], []),
            ("Questions", [LONG_ADDRESS], []),
        ]
    )
    v2 = pptx_bytes(
        [
            ("Winter pressures", ["Beds open: 42", "Staff are tired"], ["Mention the plan first"]),
            ("Questions", [LONG_ADDRESS], []),
            ("Staffing", ["Vacancies on every ward", LONG_ADDRESS + "/vacancies"], []),
            ("Budget", ["Agency spend fell by ten percent over the winter months"], []),
        ]
    )
    doc = upload_document(ws, priya, name="winter.pptx", content=v1)
    version_upload(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        uploaded=SimpleUploadedFile("winter.pptx", v2),
    )
    assert Preview.objects.filter(status=PreviewStatus.READY).count() == 2

    page = new_page("Priya", viewport=viewport)
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/compare/")
    expect(page.get_by_role("heading", name="Version 1 against version 2")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "3 words added, 2 removed in 2 slides; 1 slide added; 1 slide removed; 1 slide moved"
    )
    main = page.locator("main")
    expect(main.locator("del", has_text="40")).to_have_count(1)
    expect(main.locator("ins", has_text="42")).to_have_count(1)
    expect(main.get_by_text("Slide added", exact=True)).to_be_visible()
    expect(main.get_by_text("Slide removed", exact=True)).to_be_visible()
    main.get_by_role("link", name="Moved to slide 4").click()
    expect(page).to_have_url(re.compile("#slide-moved_to-1$"))
    expect(main.locator("#slide-moved_to-1 ins", has_text="ten")).to_be_visible()
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

    page.get_by_label("Show").select_option(index=1)  # side by side
    page.get_by_role("button", name="Compare").click()
    expect(main.locator("#slide-moved_to-1 ins", has_text="ten")).to_be_visible()
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []
    assert page_problems.seen == []
