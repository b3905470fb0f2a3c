"""Live comments in two browsers at once: Priya at her desk (1280 px) and Sam on a phone
(360 by 740), both on the same document, served over ASGI with websockets."""

from __future__ import annotations

import re
import time
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import PHONE, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments.models import Comment
from commonroom.comments.services import comment_create
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def _world() -> tuple[Any, Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes.txt")
    return priya, sam, ws, doc


def _open(new_page: Any, server: Any, who: Any, path: str, **kwargs: Any) -> Any:
    page = new_page(who.full_name, base_url=server.url, **kwargs)
    sign_in(page, who.email, PASSWORD)
    page.goto(path)
    # The page's socket is open once the document element says so.
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page


def test_a_comment_from_the_desk_reaches_the_phone_within_two_seconds_and_back(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    desk = _open(new_page, asgi_server, priya, path)
    phone = _open(new_page, asgi_server, sam, path, viewport=PHONE)

    text = "Line 14: the agency spend figure is for Q2, not Q3."
    box = desk.get_by_label("Add a comment")
    box.fill(text)
    started = time.monotonic()
    box.press("Enter")
    phone_threads = phone.locator('[data-live-list^="document:"]')
    expect(phone_threads).to_contain_text(text, timeout=2000)
    elapsed = time.monotonic() - started
    assert elapsed < 2, f"the comment took {elapsed:.2f} s to reach the phone"
    # On the desk it was shown at once, then replaced by the stored comment: exactly once.
    expect(desk.locator(".cr-item--pending")).to_have_count(0)
    expect(desk.locator("article.cr-thread", has_text=text)).to_have_count(1)

    # The phone answers in the thread; the desk sees the reply without a reload.
    thread = phone.locator("article.cr-thread", has_text=text)
    thread.get_by_text("Reply", exact=True).click()
    reply = thread.get_by_label("Your reply")
    reply.fill("Agreed, I'll fix it in version 2.")
    started = time.monotonic()
    reply.press("Enter")
    expect(desk.locator("article.cr-thread", has_text=text)).to_contain_text(
        "I'll fix it in version 2", timeout=2000
    )
    assert time.monotonic() - started < 2
    assert Comment.objects.filter(body__contains="fix it in version 2").count() == 1
    # The composer stays on screen at the bottom of the phone, like a messaging app.
    composer = phone.locator('form.cr-composer[data-list^="document:"]')
    box_on_phone = composer.bounding_box()
    assert box_on_phone is not None
    assert box_on_phone["y"] + box_on_phone["height"] <= PHONE["height"] + 1
    # A new version uploaded meanwhile is announced on the open page, with a way to reload.
    version_upload(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        uploaded=SimpleUploadedFile("minutes.txt", b"Amended minutes.\n"),
        based_on_number=1,
    )
    notice = phone.locator("#cr-live-banner")
    expect(notice).to_contain_text("Priya Shah uploaded version 2 of minutes.txt", timeout=2000)
    notice.get_by_role("button", name="Reload the page").click()
    expect(phone.get_by_role("heading", name=re.compile("Version 2"))).to_be_visible()
    assert page_problems.seen == []


def test_a_phone_that_lost_its_connection_gets_what_it_missed_and_sends_its_queue_once(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    phone = _open(new_page, asgi_server, sam, path, viewport=PHONE)

    # The server goes away (the phone loses signal), and Priya comments meanwhile.
    asgi_server.stop()
    expect(phone.locator("html")).to_have_attribute("data-live", "closed")
    missed = "Posted while Sam's phone was out of signal."
    comment_create(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        body=missed,
    )
    # Sam types a comment offline: it is queued, not lost.
    queued = "Typed in the lift, sent when back."
    box = phone.get_by_label("Add a comment")
    box.fill(queued)
    box.press("Enter")
    expect(phone.locator(".cr-item--pending")).to_contain_text(queued)
    expect(phone.locator(".cr-item--pending")).to_contain_text(re.compile("connection|busy"))

    asgi_server.start()
    # Back: the missed comment arrives, the queued one is sent, once.
    expect(phone.locator("html")).to_have_attribute("data-live", "open", timeout=20_000)
    threads = phone.locator('[data-live-list^="document:"]')
    expect(threads).to_contain_text(missed, timeout=5000)
    expect(threads.locator("article.cr-thread", has_text=queued)).to_have_count(1, timeout=15_000)
    expect(phone.locator(".cr-item--pending")).to_have_count(0)
    phone.reload()
    expect(phone.locator("article.cr-thread", has_text=queued)).to_have_count(1)
    assert Comment.objects.filter(body=queued).count() == 1
    # While the server was down the browser logged failed connections; nothing else.
    assert [
        p for p in page_problems.seen if "WebSocket" not in p and "Failed to load" not in p
    ] == []


def test_script_in_a_comment_stays_inert_on_every_screen(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    desk = _open(new_page, asgi_server, priya, path)
    phone = _open(new_page, asgi_server, sam, path, viewport=PHONE)
    attack = (
        '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
        "[click me](javascript:window.pwned=3) **still bold**"
    )
    box = desk.get_by_label("Add a comment")
    box.fill(attack)
    box.press("Enter")
    thread = phone.locator("article.cr-thread", has_text="still bold")
    expect(thread).to_have_count(1, timeout=2000)
    # Typed tags are shown as text; the javascript: link is not a link; bold still works.
    expect(thread).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(thread.locator("strong", has_text="still bold")).to_have_count(1)
    expect(thread.locator("img, script")).to_have_count(0)
    expect(thread.locator('a[href^="javascript"]')).to_have_count(0)
    thread.get_by_text("click me").click()
    for page in (desk, phone):
        desk.reload()
        assert page.evaluate("typeof window.pwned") == "undefined"
    # A Content-Security-Policy violation would show here as a console error.
    assert page_problems.seen == []


def test_the_outbox_is_personal_and_emptied_on_sign_out(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    _priya, sam, ws, doc = _world()
    phone = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/", viewport=PHONE)
    phone.context.set_offline(True)
    box = phone.get_by_label("Add a comment")
    box.fill("Queued on a shared computer.")
    box.press("Enter")
    expect(phone.locator(".cr-item--pending")).to_contain_text("Queued on a shared computer.")
    keys = phone.evaluate("Object.keys(localStorage)")
    assert keys == [f"cr-outbox:{sam.pk}"]
    # The sign-out form being submitted forgets it (the event alone: the page stays, offline).
    phone.evaluate(
        "document.querySelector('form[data-sign-out]')"
        ".dispatchEvent(new Event('submit', {cancelable: true}))"
    )
    assert phone.evaluate("Object.keys(localStorage)") == []
    # Back online, nothing of it is sent: the page's comment posts from now on are recorded,
    # and a later comment is sent and stored. Coming online sends what the outbox holds at
    # once (before the later comment is typed), so its post would have been recorded first.
    posts: list[bytes] = []
    phone.on(
        "request",
        lambda r: posts.append(r.post_data_buffer or b"") if r.method == "POST" else None,
    )
    phone.context.set_offline(False)
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    box.fill("Typed after coming back online.")
    box.press("Enter")
    expect(phone.locator("article.cr-thread", has_text="Typed after coming back")).to_have_count(1)
    assert Comment.objects.filter(body="Typed after coming back online.").exists()
    assert [b"Queued on a shared computer." in body for body in posts] == [False]
    assert not Comment.objects.filter(body="Queued on a shared computer.").exists()
