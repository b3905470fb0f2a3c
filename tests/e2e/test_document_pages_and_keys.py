"""A Word document as its author laid it out, and getting around previews and comparisons from
the keyboard, in Chromium at a desk and on a phone: the agenda's pages with their protective
marking and page numbers, kept when printed; its contents and pages to jump to, the focus
following; paragraph by paragraph with the arrow keys; a comparison's changes one after another
("Change 2 of 5"); a sheet wider than a phone saying that it scrolls, and scrolling from the
keyboard."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from openpyxl import Workbook
from playwright.sync_api import expect
from pypdf import PdfReader
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.demo.seed import minutes_docx
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.tests.test_outline import agenda
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def in_view(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """s => { const r = document.querySelector(s).getBoundingClientRect();
                      return r.top >= 0 && r.top < window.innerHeight; }""",
            selector,
        )
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_word_document_s_pages_contents_and_paragraphs(
    new_page: Any, page_problems: Any, viewport: dict[str, int], tmp_path: Path
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(
        ws, priya, name="agenda.docx", content=agenda(tmp_path / "agenda.docx").read_bytes()
    )
    assert Preview.objects.get().status == PreviewStatus.READY

    page = new_page("Priya", viewport=viewport)
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    body = page.locator(".cr-preview__body")
    expect(body.locator(".cr-preview-page-number")).to_have_text(["Page 1", "Page 2", "Page 3"])
    expect(body.locator(".cr-preview-page-header")).to_have_text(["OFFICIAL-SENSITIVE"] * 3)
    expect(body.locator(".cr-preview-page-footer").last).to_have_text("Page 3 of 3")

    # The contents: a heading, then a page, each taking the focus to its block.
    page.get_by_text("Contents and pages").click()
    headings = page.get_by_role("navigation", name="Headings of the document")
    headings.get_by_role("link", name="Item 2: finance").click()
    expect(page).to_have_url(re.compile("#p-5$"))
    assert focused_id(page) == "p-5" and in_view(page, "#p-5")
    page.keyboard.press("Tab")  # Tab goes on from the heading jumped to, not from the link
    assert page.evaluate("document.activeElement.closest('.cr-read') !== null")
    pages = page.get_by_role("navigation", name="Pages of the document")
    pages.get_by_role("link", name="Page 2").click()
    assert focused_id(page) == "p-4"
    expect(page.locator("#p-4")).to_have_text("None.")
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

    # Paragraph by paragraph: one stop each, the arrow keys moving between them.
    page.get_by_role("button", name="Comment on a paragraph").click()
    assert focused_id(page) == "p-1"
    page.keyboard.press("ArrowDown")
    assert focused_id(page) == "p-2"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert focused_id(page) == "p-2"
    expect(page.get_by_role("button", name="Comment on this paragraph")).to_be_visible()
    assert page_problems.seen == []


def test_a_printed_word_preview_keeps_its_pages_headers_and_footers(
    new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(
        ws, priya, name="agenda.docx", content=agenda(tmp_path / "agenda.docx").read_bytes()
    )
    page = new_page("Priya")
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(page.locator(".cr-preview-page-number")).to_have_count(3)
    printed = PdfReader(io.BytesIO(page.pdf(format="A4")))
    texts = [p.extract_text() for p in printed.pages]
    # Each of the document's pages starts a printed sheet with its marking and its footer.
    starts = [i for i, text in enumerate(texts) if re.search(r"Page [123]\s*OFFICIAL", text)]
    assert len(starts) == 3 and starts == sorted(set(starts)), texts
    for n, sheet in enumerate(starts, start=1):
        assert "OFFICIAL-SENSITIVE" in texts[sheet]
        assert f"Page {n} of 3" in texts[sheet], texts[sheet]
    assert "None." in texts[starts[1]] and "None." not in texts[starts[0]]
    assert page_problems.seen == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_comparison_steps_from_change_to_change(
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
    page = new_page("Priya", viewport=viewport)
    sign_in(page, str(priya.email), PASSWORD)
    for view in ("inline", "side"):
        page.goto(f"/w/{ws.pk}/d/{doc.pk}/compare/?a=1&b=2&view={view}")
        nav = page.get_by_role("navigation", name="Changes")
        count = nav.locator("[data-compare-count]")
        total = page.locator("main [data-change]").count()
        assert total >= 4
        expect(count).to_have_text(f"{total} changes")
        previous = nav.get_by_role("button", name="Previous change")
        following = nav.get_by_role("button", name="Next change")
        expect(previous).to_be_disabled()
        following.click()
        expect(count).to_have_text(f"Change 1 of {total}")
        following.click()
        expect(count).to_have_text(f"Change 2 of {total}")
        second = page.locator("main [data-change]").nth(1)
        expect(second).to_be_focused()
        assert in_view(page, ".cr-compare-current")
        # The bar stays in sight above the change reached.
        bar = nav.bounding_box()
        reached = second.bounding_box()
        assert bar is not None and reached is not None
        assert bar["y"] >= -1 and bar["y"] + bar["height"] <= reached["y"] + 1
        previous.click()
        expect(count).to_have_text(f"Change 1 of {total}")
        expect(previous).to_be_disabled()
        for _ in range(total + 1):
            if following.is_enabled():
                following.click()
        expect(count).to_have_text(f"Change {total} of {total}")
        expect(following).to_be_disabled()
        assert page_width(page) <= viewport["width"]
        assert violations(page) == []
    assert page_problems.seen == []


def _wide_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append([f"Month {n}" for n in range(1, 31)])
    for row in range(5):
        sheet.append([f"{row * 100 + n:,}" for n in range(1, 31)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_wide_sheet_says_it_scrolls_and_scrolls_from_the_keyboard(
    new_page: Any, page_problems: Any, viewport: dict[str, int]
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(ws, priya, name="budget.xlsx", content=_wide_workbook())
    page = new_page("Priya", viewport=viewport)
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    sheet = page.get_by_role("table", name="Budget (scrolls sideways)")
    expect(sheet).to_be_visible()
    expect(page.get_by_text("Wider than the screen: scroll sideways")).to_be_visible()
    expect(sheet).to_have_attribute("tabindex", "0")
    sheet.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('table.cr-scrolls').scrollLeft > 0", timeout=5_000
    )
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []
    assert page_problems.seen == []
