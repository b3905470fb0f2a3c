"""Reading comes first on a phone (360 by 740): the document's own text starts on the first
screen, under a compact header (search and menu behind buttons) and one row of actions; and
the desk (1280) keeps its full header."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.documents.models import VersionRead
from commonroom.documents.tests.factories import new_version
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

# ``COMMONROOM_SHOTS=<folder>`` keeps a screenshot of the guest's first screen at 360 px.
SHOTS = os.environ.get("COMMONROOM_SHOTS", "")

MINUTES = (
    "Weekly budget meeting, minutes of 24 November 2026.\n\n"
    "Present: Priya Shah (chair), Tom Reed, Aisha Khan, Sam Okafor.\n\n"
    + "\n\n".join(f"Item {i}: the agency spend figures were reviewed." for i in range(1, 30))
)


def _world() -> tuple[Any, Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya, name="Weekly budget meeting")
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes-2026-11-24.txt", content=MINUTES.encode())
    return priya, sam, ws, doc


def test_on_a_phone_the_document_text_starts_on_the_first_screen(
    new_page: Any, page_problems: Any
) -> None:
    _priya, sam, ws, doc = _world()
    page = new_page("Sam", viewport=PHONE)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    first = page.locator(".cr-preview__body p").first
    expect(first).to_contain_text("Weekly budget meeting, minutes")
    box = first.bounding_box()
    assert box is not None
    assert box["y"] < PHONE["height"], f"the text starts at {box['y']} px"
    # One row of actions: download and follow side by side.
    download = page.locator(".cr-doc-actions").get_by_role("link", name="Download version 1")
    follow = page.get_by_role("button", name=re.compile("^(Stop following|Follow)"))
    d, f = download.bounding_box(), follow.bounding_box()
    assert d is not None and f is not None
    assert abs(d["y"] - f["y"]) < 8
    # The header is one row: search and the menu wait behind their buttons.
    search_box = page.get_by_role("searchbox", name="Search Commonroom")
    expect(search_box).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="My workspaces")).to_be_visible()
    search = page.locator("[data-header-toggle='cr-header-search']")
    search.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(search_box).to_be_focused()
    search.click()
    expect(search_box).to_be_hidden()
    menu.click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(menu).to_be_focused()
    # Escape puts the menu away wherever the focus is: here on the menu's own button.
    menu.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    menu.focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    assert page_width(page) <= PHONE["width"]
    assert page_problems.seen == []


def test_a_guest_whose_access_ends_soon_who_may_not_download_still_starts_reading_at_once(
    new_page: Any, page_problems: Any
) -> None:
    """Everything the page may add above the text for a reader: their access ending this week,
    the sentence that downloading is turned off for them (decision 27: by default for external
    guests who comment), "new since you last read it"; the text still starts on the first
    screen, and the row of actions holds what is left."""
    priya, _sam, ws, doc = _world()
    aisha = add_member(
        ws, GuestFactory(email="aisha@board.example.net", full_name="Aisha Khan"), "commenter"
    )
    Membership.objects.filter(workspace=ws, user=aisha).update(
        access_until=timezone.localdate() + timedelta(days=3)
    )
    v1 = doc.versions.get()
    VersionRead.objects.create(version=v1, document=doc, reader=aisha, read_by="preview")
    new_version(priya, doc, MINUTES.replace("24 November", "24 November (amended)").encode())
    page = new_page("Aisha", viewport=PHONE)
    sign_in(page, aisha.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(page.locator("main")).to_contain_text("Your access ends in 3 days")
    expect(page.get_by_text("New since you last read it")).to_be_visible()
    actions = page.locator(".cr-doc-actions")
    expect(actions.get_by_test_id("download-off")).to_be_visible()
    expect(actions.get_by_role("link", name=re.compile("^Download"))).to_have_count(0)
    expect(
        actions.get_by_role("button", name=re.compile("^(Stop following|Follow)"))
    ).to_be_visible()
    first = page.locator(".cr-preview__body p").first
    expect(first).to_contain_text("minutes of 24 November (amended)")
    box = first.bounding_box()
    assert box is not None
    assert box["y"] < PHONE["height"], f"the text starts at {box['y']} px"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/phone-first-guest-360.png")
    assert page_width(page) <= PHONE["width"]
    assert page_problems.seen == []


def test_at_a_desk_the_header_is_whole_and_the_buttons_are_not_there(
    new_page: Any, page_problems: Any
) -> None:
    priya, _sam, ws, doc = _world()
    page = new_page("Priya", viewport=DESKTOP)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(page.get_by_role("searchbox", name="Search Commonroom")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="My workspaces")).to_be_visible()
    expect(page.locator("[data-header-toggle]")).to_have_count(2)
    for toggle in page.locator("[data-header-toggle]").all():
        expect(toggle).to_be_hidden()
    assert page_problems.seen == []


def test_without_scripts_the_phone_menu_and_search_still_open(
    browser: Any, asgi_server: Any
) -> None:
    _priya, sam, ws, doc = _world()
    context = browser.new_context(
        base_url=asgi_server.url, viewport=PHONE, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, sam.email, PASSWORD)
        page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        page.get_by_role("link", name="Menu").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.get_by_role("link", name="Search", exact=True).click()
        expect(page.get_by_role("searchbox", name="Search Commonroom")).to_be_visible()
    finally:
        context.close()


def test_a_menu_opened_before_the_script_ran_stays_open_and_the_buttons_take_over(
    new_page: Any, page_problems: Any
) -> None:
    """A tap on "Menu" before the page's script has run follows the link (#cr-header-menu);
    once the script runs, the menu is still open, and "Search" then closes it."""
    _priya, sam, ws, doc = _world()
    page = new_page("Sam", viewport=PHONE)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/#cr-header-menu")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.locator("[data-header-toggle='cr-header-search']").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(page.get_by_role("searchbox", name="Search Commonroom")).to_be_visible()
    assert page_problems.seen == []


def test_a_word_document_with_a_long_name_still_starts_on_the_first_screen(
    new_page: Any, page_problems: Any
) -> None:
    from commonroom.suggestions.tests.factories import docx_bytes, with_preview

    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya, name="Weekly budget meeting")
    add_member(ws, sam, "viewer")  # "Open in Word to read": the longest row
    paragraphs = [f"Item {i}: the agency spend figures were reviewed." for i in range(1, 30)]
    doc = with_preview(
        priya,
        ws,
        "minutes-of-the-weekly-budget-meeting-2026-11-24-final.docx",
        docx_bytes("Weekly budget meeting, minutes of 24 November 2026.", *paragraphs),
    )
    page = new_page("Sam", viewport=PHONE)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(page.locator(".cr-doc-actions")).to_contain_text("Open in Word")
    # One row: download, open in Word and follow side by side.
    tops = {
        round(b["y"])
        for b in page.locator(".cr-doc-actions .nhsuk-button").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().toJSON())"
        )
    }
    assert len(tops) == 1, tops
    first = page.locator(".cr-preview__body p").first
    expect(first).to_contain_text("Weekly budget meeting, minutes")
    box = first.bounding_box()
    assert box is not None
    assert box["y"] < PHONE["height"], f"the text starts at {box['y']} px"
    # Following it too ("Stop following" is longer): the row may wrap, never widen the page,
    # and the text still starts on the first screen.
    page.get_by_role("button", name=re.compile("^Follow")).click()
    expect(page.get_by_role("button", name=re.compile("^Stop following"))).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    box = page.locator(".cr-preview__body p").first.bounding_box()
    assert box is not None and box["y"] < PHONE["height"]
    page.locator("[data-header-toggle='cr-header-menu']").click()
    assert page_width(page) <= PHONE["width"]
    assert page_problems.seen == []
