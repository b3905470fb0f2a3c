"""The header's search box, at a desk and on a phone: quick results appear under it as you type
(from the searcher's workspaces only), Escape puts them away, one leads to the document, and the
search page shows one box, its results kept in one history entry while typing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.workspaces.tests.factories import make_workspace, upload_document


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_quick_results_as_you_type(
    new_page: Any, page_problems: Any, viewport: dict[str, int]
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(ws, priya, name="Winter handover plan.txt", content=b"Beds and staff")
    upload_document(ws, priya, name="Handover rota.txt", content=b"Rota")
    other = UserFactory(email="olivia@example.org")
    upload_document(make_workspace(manager=other), other, name="Handover secret.txt", content=b"x")

    page = new_page("Priya", viewport=viewport)
    sign_in(page, priya.email, PASSWORD)
    page.goto("/")
    if viewport == PHONE:
        # On a phone the box waits behind the header's "Search" button, which focuses it.
        page.get_by_role("button", name="Search").click()
    box = page.get_by_label("Search Commonroom")
    expect(box).to_be_visible()
    box.press_sequentially("handov", delay=30)
    panel = page.locator("#cr-suggest")
    links = panel.locator("a.cr-suggest__link")
    expect(links).to_have_count(2)
    expect(panel).not_to_contain_text("secret")
    expect(panel.get_by_role("link", name="All results for handov")).to_be_visible()
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

    # A click anywhere else (the foot of the window, clear of the panel) puts them away, the
    # words staying in the box.
    page.mouse.click(4, viewport["height"] - 4)
    expect(links).to_have_count(0)
    expect(box).to_have_value("handov")
    box.press("End")
    box.press_sequentially("e", delay=30)
    expect(box).to_have_value("handove")
    expect(links).to_have_count(2)
    # Escape on a result puts them away and goes back to the box, its words kept (Chromium
    # itself only empties a search box that has the focus).
    links.first.focus()
    page.keyboard.press("Escape")
    expect(links).to_have_count(0)
    expect(box).to_be_focused()
    expect(box).to_have_value("handove")
    box.press("Escape")  # Chromium empties a search box on Escape, too
    expect(links).to_have_count(0)
    box.press_sequentially("handove", delay=30)
    expect(links).to_have_count(2)
    page.get_by_role("link", name="Winter handover plan.txt").click()
    page.wait_for_url(f"**/w/{ws.pk}/d/{doc.pk}/")

    # The search page: its own box only; typing there does not add a history entry a letter.
    page.goto("/search/")
    expect(page.locator("#header-search")).to_have_count(0)
    before = page.evaluate("history.length")
    field = page.get_by_role("searchbox").first
    field.press_sequentially("rota", delay=400)
    expect(page.locator(".cr-search-hit")).to_have_count(1)
    # "rot" finds the same one: wait for the last letter's answer before counting entries.
    expect(page).to_have_url(re.compile(r"[?&]q=rota(&|$)"))
    assert page.evaluate("history.length") == before
    assert page_problems.seen == []


def test_a_hit_inside_a_pdf_opens_at_its_page(new_page: Any, page_problems: Any) -> None:
    """Following a result found in a PDF's text scrolls to the word, opening that page's text."""
    from commonroom.previews.models import Preview, PreviewStatus
    from commonroom.previews.tests.test_formats_pdf import text_pdf

    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        pdf = text_pdf(
            Path(folder) / "r.pdf", ["Quality report", "Falls fell", "Narwhal audit results"]
        ).read_bytes()
    doc = upload_document(ws, priya, name="quality.pdf", content=pdf)
    assert Preview.objects.get(blob__versions__document=doc).status == PreviewStatus.READY

    page = new_page("Priya", viewport=PHONE)
    sign_in(page, priya.email, PASSWORD)
    page.goto("/search/?q=narwhal")
    hit = page.locator(".cr-search-hit a").first
    assert hit.get_attribute("href").endswith(f"/d/{doc.pk}/#:~:text=Narwhal")
    hit.click()
    page.wait_for_url(re.compile(f"/d/{doc.pk}/"))
    third = page.locator("#p-3 details")
    expect(third).to_have_attribute("open", "")
    page.wait_for_function("window.scrollY > 300")
    assert page_problems.seen == []
