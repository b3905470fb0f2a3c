"""Read receipts in Chromium, at a desk and on a phone (decision 26): Sam's page open in a
background tab does not count as reading, however long it stays there; once the tab is in front
with the preview in sight for five seconds, it does, and Priya (the manager) sees "1 of 2
members have read version 1" where there was "0 of 2" when she comes back to her tab, without
a reload (her own page, in a background tab until then, counted for nothing).

Headless Chromium reports every tab as visible, whichever is in front, so the test puts Sam's
tab in the background the way a browser tells a page: ``document.visibilityState`` is "hidden"
and a ``visibilitychange`` event fires when it comes to the front. Everything else (the timing,
the IntersectionObserver, the request and the server's checks) is the real thing."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.documents import services
from commonroom.documents.models import VersionRead
from commonroom.documents.selectors import document_access
from commonroom.previews.models import Preview
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

# ``COMMONROOM_SHOTS=<folder>`` keeps a full-page screenshot of both pages at 360 and 1280 px.
SHOTS = os.environ.get("COMMONROOM_SHOTS", "")

# The tab starts in the background: hidden until the test brings it to the front.
BACKGROUND_TAB = """
window.__tabHidden = true;
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return window.__tabHidden ? "hidden" : "visible"; },
});
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get() { return window.__tabHidden; },
});
"""
TO_THE_FRONT = "window.__tabHidden = false; document.dispatchEvent(new Event('visibilitychange'));"


def _minutes_with_a_preview() -> tuple[Any, Any, Any, Any]:
    """Priya manages the workspace, Sam comments; the minutes' preview is ready."""
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Green")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes.txt")
    make_ready_preview(doc)
    return priya, sam, ws, doc


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_background_tab_does_not_count_and_a_visible_one_does(
    new_page: Any, page_problems: Any, viewport: dict[str, int]
) -> None:
    priya, sam, ws, doc = _minutes_with_a_preview()
    Preview.objects.filter(blob_id=doc.versions.get().blob_id).update(
        html='<p id="p-1">Minutes of the weekly budget meeting: the bank staff rota agreed.</p>'
    )
    path = f"/w/{ws.pk}/d/{doc.pk}/"

    # Priya's page waits in a background tab until Sam has read it: she reads nothing there.
    manager = new_page("Priya", viewport=viewport)
    sign_in(manager, priya.email, PASSWORD)
    manager.add_init_script(BACKGROUND_TAB)
    manager.goto(path)
    readers = manager.locator("#readers")
    expect(readers.get_by_text("0 of 2 members have read version 1")).to_be_visible()
    # Remind the one who has not read it: once; the second time the same day is a sentence.
    manager.get_by_role("button", name="Remind those who have not read it").click()
    expect(manager.get_by_text("Reminded 1 person who had not read version 1")).to_be_visible()
    manager.get_by_role("button", name="Remind those who have not read it").click()
    expect(manager.get_by_text("already reminded them today")).to_be_visible()

    reader = new_page("Sam", viewport=viewport)
    sign_in(reader, sam.email, PASSWORD)
    reader.add_init_script(BACKGROUND_TAB)
    reader.goto(path)
    rule = reader.get_by_text("counts as read once its preview has been on screen for 5 seconds")
    expect(rule).to_be_visible()
    expect(reader.locator(".cr-read #p-1")).to_contain_text("bank staff rota agreed")
    assert reader.evaluate("document.visibilityState") == "hidden"

    # In the background for longer than the rule asks: nothing is sent.
    time.sleep(7)
    assert not VersionRead.objects.exists()  # neither Sam's background tab nor Priya's
    expect(reader.get_by_role("status").filter(has_text="You have read")).to_have_count(0)

    if viewport == PHONE:
        # On a phone the preview starts on the first screen (decision 30); scrolled away from it,
        # down to the comments, the tab in front counts for nothing: still not read.
        preview = reader.locator(".cr-read")
        assert preview.evaluate("e => e.getBoundingClientRect().top") < PHONE["height"]
        reader.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        reader.evaluate(TO_THE_FRONT)
        assert preview.evaluate("e => e.getBoundingClientRect().bottom") <= 0
        time.sleep(7)
        assert not VersionRead.objects.exists()
        preview.scroll_into_view_if_needed()
    else:
        reader.evaluate(TO_THE_FRONT)
    # In front, the preview in sight: read after five seconds.
    done = reader.get_by_role("status").filter(has_text="You have read version 1.")
    expect(done).to_be_visible(timeout=15_000)
    receipt = VersionRead.objects.get()
    assert (receipt.reader_id, receipt.read_by) == (sam.pk, "preview")
    assert receipt.visible_seconds is not None and 5 <= receipt.visible_seconds <= 7

    # Priya comes back to her tab: the list is brought up to date without a reload.
    manager.evaluate(TO_THE_FRONT)
    expect(readers.get_by_text("1 of 2 members have read version 1")).to_be_visible()
    expect(readers.locator("[data-readers-read]")).to_contain_text("Sam Green")
    expect(readers.locator("[data-readers-read]")).to_contain_text("Read its preview")
    expect(readers.locator("[data-readers-unread]")).to_contain_text("Priya Shah")
    if SHOTS:
        manager.screenshot(path=f"{SHOTS}/read-receipts-{viewport['width']}.png", full_page=True)
        reader.screenshot(
            path=f"{SHOTS}/read-receipts-reader-{viewport['width']}.png", full_page=True
        )
    assert page_width(manager) <= viewport["width"]
    assert page_width(reader) <= viewport["width"]

    assert not page_problems.seen


def test_a_page_whose_document_went_to_the_trash_claims_no_reading(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    """Sam's tab waits in the background; Priya moves the document to the trash. When Sam
    brings the tab to the front, the page (told live that the document is gone) counts nothing
    and sends nothing: no receipt, and no request refused with 404 in the browser's console."""
    priya, sam, ws, doc = _minutes_with_a_preview()

    reader = new_page("Sam", base_url=asgi_server.url)
    sign_in(reader, sam.email, PASSWORD)
    reader.add_init_script(BACKGROUND_TAB)
    reader.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(reader.locator("html")).to_have_attribute("data-live", "open")
    expect(reader.locator(".cr-read .cr-preview__body")).to_be_visible()

    services.document_delete(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
    )
    expect(reader.locator("#cr-live-banner")).to_contain_text("moved to the trash")
    reader.evaluate(TO_THE_FRONT)
    time.sleep(7)  # longer than the five seconds the rule asks
    assert not VersionRead.objects.exists()
    expect(reader.get_by_role("status").filter(has_text="You have read")).to_have_count(0)
    assert not page_problems.seen
    assert reader.locator("#cr-reading").get_attribute("data-reading-stopped") == "true"
