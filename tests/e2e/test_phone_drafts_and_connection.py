"""On a phone with patchy signal (360 by 740): what is typed and not sent survives a reload; the
page says plainly when it is offline or reconnecting; and "new version, reload" is never shown
on a page that already shows that version."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import PHONE, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments.models import Comment
from commonroom.comments.services import comment_create
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.live.models import Event
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

OFFLINE = "Offline — your comment will be sent when you are back"


def _world() -> tuple[Any, Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes.txt")
    return priya, sam, ws, doc


def _open(new_page: Any, server: Any, who: Any, path: str) -> Any:
    page = new_page(who.full_name, base_url=server.url, viewport=PHONE)
    sign_in(page, who.email, PASSWORD)
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page


def _upload(priya: Any, ws: Any, doc: Any, words: bytes, based_on: int) -> None:
    version_upload(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        uploaded=SimpleUploadedFile("minutes.txt", words),
        based_on_number=based_on,
    )


def test_a_typed_comment_and_a_typed_reply_survive_a_reload_until_sent(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    thread = comment_create(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        body="Is the agency figure right?",
    )
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    phone = _open(new_page, asgi_server, sam, path)
    phone.get_by_label("Add a comment").fill("Half-typed on the bus")
    card = phone.locator(f"#thread-{thread.pk}")
    card.get_by_text("Reply", exact=True).click()
    card.get_by_label("Your reply").fill("No, it is Q2's")

    phone.reload()
    expect(phone.locator("html")).to_have_attribute("data-live", "open")
    expect(phone.get_by_label("Add a comment")).to_have_value("Half-typed on the bus")
    reply = phone.locator(f"#thread-{thread.pk}").get_by_label("Your reply")
    expect(reply).to_be_visible()
    expect(reply).to_have_value("No, it is Q2's")

    # Sent: the draft is gone, and a reload starts empty; the other draft stays.
    box = phone.get_by_label("Add a comment")
    box.press("Enter")
    expect(phone.locator("article.cr-thread", has_text="Half-typed on the bus")).to_have_count(1)
    phone.reload()
    expect(phone.locator("html")).to_have_attribute("data-live", "open")
    expect(phone.get_by_label("Add a comment")).to_have_value("")
    expect(phone.locator(f"#thread-{thread.pk}").get_by_label("Your reply")).to_have_value(
        "No, it is Q2's"
    )
    assert Comment.objects.filter(body="Half-typed on the bus").count() == 1
    assert page_problems.seen == []


def test_the_page_says_when_it_is_offline_or_reconnecting(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    _priya, sam, ws, doc = _world()
    phone = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/")
    line = phone.locator("[data-live-status]")
    expect(line).to_be_hidden()
    expect(line).to_have_attribute("aria-live", "polite")

    phone.context.set_offline(True)
    expect(line).to_be_visible()
    expect(line).to_have_text(OFFLINE)
    # In sight wherever the person is on the page: at the top of the screen.
    for scrolled in (0, 2000):
        phone.evaluate(f"window.scrollTo(0, {scrolled})")
        box = line.bounding_box()
        assert box is not None
        top = phone.evaluate("el => el.getBoundingClientRect().top", line.element_handle())
        assert top >= 0 and top + box["height"] <= PHONE["height"]
    phone.context.set_offline(False)
    expect(line).to_be_hidden(timeout=10_000)

    asgi_server.stop()
    expect(line).to_have_text("Reconnecting…")
    asgi_server.start()
    expect(phone.locator("html")).to_have_attribute("data-live", "open", timeout=20_000)
    expect(line).to_be_hidden()
    assert [p for p in page_problems.seen if "WebSocket" not in p and "ERR_" not in p] == []


def test_no_new_version_banner_on_a_page_that_already_shows_it(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    _upload(priya, ws, doc, b"Amended minutes.\n", based_on=1)
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    page = new_page(sam.full_name, base_url=asgi_server.url, viewport=PHONE)
    sign_in(page, sam.email, PASSWORD)

    # The page is drawn with version 2, but its socket is told of the events from just before
    # version 2's (as after a reconnect that replays them): version 2's own event among them.
    v2 = Event.objects.filter(workspace=ws, kind="version.created").order_by("-id").first()
    assert v2 is not None and v2.data["number"] == 2
    replay_from = v2.pk - 1
    page.add_init_script(
        "new MutationObserver(() => {"
        "  const meta = document.querySelector('meta[name=\"cr-live\"]');"
        f'  if (meta) meta.dataset.after = "{replay_from}";'
        "}).observe(document, { childList: true, subtree: true });"
    )
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    expect(page.locator("[data-document-version]")).to_have_attribute("data-document-version", "2")
    # The replayed events have arrived (the comment's, last, is on the page) and said nothing.
    comment_create(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        body="Version 2 reads well.",
    )
    expect(page.locator('[data-live-list^="document:"]')).to_contain_text("Version 2 reads well.")
    page.wait_for_timeout(1000)  # the announcement asks for the uploader's name first
    assert page.locator("#cr-live-banner").all_inner_texts() == []
    # Version 3 arrives while the page is open: that one is announced, and only that one.
    _upload(priya, ws, doc, b"Amended again.\n", based_on=2)
    notice = page.locator("#cr-live-banner")
    expect(notice).to_contain_text("Priya Shah uploaded version 3 of minutes.txt")
    expect(notice).not_to_contain_text("version 2")
    assert page_problems.seen == []
