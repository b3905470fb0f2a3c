"""A Word document on its page in Chromium: "Open in Word" is Office's link to the document's
WebDAV address (which the server answers with the document), "Open with WebDAV" shows that
address to copy; once Word holds the document (a LOCK as Word sends it), a reload shows who is
editing it and since when, on the page and in the folder; a manager breaks the lock there."""

from __future__ import annotations

import re
from typing import Any

import httpx
from django.utils import timezone
from e2e_support import PHONE, page_width, sign_in
from playwright.sync_api import expect

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.webdav.models import DavLock
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

SOON = 3000  # ms: "within seconds", with room for a busy test machine
WORD = "Microsoft Office Word 2014 (16.0.17928) Windows NT 10.0"
LOCK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner><D:href>TRUST\\tom</D:href></D:owner></D:lockinfo>"
)


def test_open_in_word_and_the_lock_it_takes(
    new_page: Any, page_problems: Any, asgi_server: Any, settings: Any
) -> None:
    settings.SITE_URL = asgi_server.url
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    tom = UserFactory(email="tom@example.org", full_name="Tom Ellis")
    ws = make_workspace(manager=priya, name="Weekly budget meeting")
    add_member(ws, tom, "editor")
    doc = upload_document(ws, priya, name="minutes.docx", content=b"Minutes, draft")
    address = f"{asgi_server.url}/dav/Weekly%20budget%20meeting/minutes.docx"

    # Tom's page: the button is Office's link to edit the document at its WebDAV address...
    his = new_page("Tom")
    sign_in(his, tom.email, PASSWORD)
    his.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    button = his.get_by_role("link", name="Open in Word")
    expect(button).to_have_attribute("href", f"ms-word:ofe|u|{address}")
    his.get_by_text("Open with WebDAV").click()
    expect(his.get_by_label("This document's address")).to_have_value(address)
    expect(his.get_by_role("button", name="Copy the address")).to_be_visible()

    # ...which the server answers with the document, to Tom and his app password.
    secret = token_create(actor=tom, name="Word", scope="write").secret
    opened = httpx.get(address, auth=(tom.email, secret))
    assert opened.status_code == 200
    assert opened.content == b"Minutes, draft"

    # Word takes its lock: Priya's open page and folder say so within seconds, no reload.
    hers = new_page("Priya")
    sign_in(hers, priya.email, PASSWORD)
    hers.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(hers.locator("html")).to_have_attribute("data-live", "open")
    folder = new_page("Priya's folder")
    sign_in(folder, priya.email, PASSWORD)
    folder.goto(f"/w/{ws.pk}/")
    expect(folder.locator("html")).to_have_attribute("data-live", "open")
    his.reload()
    expect(his.locator("html")).to_have_attribute("data-live", "open")
    expect(hers.locator("#edit-lock")).to_have_count(0)
    locked = httpx.request(
        "LOCK",
        address,
        content=LOCK_BODY,
        headers={"User-Agent": WORD, "Timeout": "Second-3600"},
        auth=(tom.email, secret),
    )
    assert locked.status_code == 200
    since = f"{timezone.localtime(DavLock.objects.get().created_at):%H:%M}"
    banner = hers.locator("#edit-lock")
    expect(banner).to_contain_text(f"Being edited in Word by Tom Ellis since {since}", timeout=SOON)
    expect(folder.get_by_role("row", name=re.compile("minutes.docx"))).to_contain_text(
        "Being edited in Word by Tom Ellis", timeout=SOON
    )

    # Tom sees that it is him; Priya, a manager, breaks the lock his Word left behind, and
    # his open page stops saying he holds it.
    expect(his.locator("#edit-lock")).to_contain_text("Being edited in Word by you", timeout=SOON)
    expect(his.get_by_text("Break the lock")).to_have_count(0)
    hers.locator("#edit-lock summary").click()
    hers.get_by_role("button", name="Break the lock").click()
    expect(hers.get_by_text("Lock broken:")).to_be_visible()
    expect(hers.locator("#edit-lock")).to_have_count(0)
    assert not DavLock.objects.exists()
    expect(his.locator("#edit-lock")).to_have_count(0, timeout=SOON)
    expect(folder.locator("#cr-listing")).not_to_contain_text("Being edited", timeout=SOON)

    # Word opens it again and closes it: its UNLOCK clears the banner on the open page.
    token = httpx.request(
        "LOCK",
        address,
        content=LOCK_BODY,
        headers={"User-Agent": WORD, "Timeout": "Second-3600"},
        auth=(tom.email, secret),
    ).headers["Lock-Token"]
    expect(hers.locator("#edit-lock")).to_contain_text("Tom Ellis", timeout=SOON)
    unlocked = httpx.request(
        "UNLOCK", address, headers={"Lock-Token": token}, auth=(tom.email, secret)
    )
    assert unlocked.status_code == 204
    expect(hers.locator("#edit-lock")).to_have_count(0, timeout=SOON)

    # On a phone the page still fits its width, the address wrapping inside its field.
    phone = new_page("Tom on a phone", viewport=PHONE)
    sign_in(phone, tom.email, PASSWORD)
    phone.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    phone.get_by_text("Open with WebDAV").click()
    assert page_width(phone) <= PHONE["width"]
    assert page_problems.seen == []
