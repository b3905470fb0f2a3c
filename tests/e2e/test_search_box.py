"""The header's search box, at a desk and on a phone: quick results appear under it as you type
(from the searcher's workspaces only), Escape puts them away, one leads to the document, and the
search page shows one box, its results kept in one history entry while typing."""

from __future__ import annotations

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
    box = page.get_by_label("Search Commonroom")
    box.press_sequentially("handov", delay=30)
    panel = page.locator("#cr-suggest")
    links = panel.locator("a.cr-suggest__link")
    expect(links).to_have_count(2)
    expect(panel).not_to_contain_text("secret")
    expect(panel.get_by_role("link", name="All results for handov")).to_be_visible()
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []

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
    assert page.evaluate("history.length") == before
    assert "q=rota" in page.url
    assert page_problems.seen == []
