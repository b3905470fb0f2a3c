"""A suggestion made on a phone reaches the desk live and is accepted there: Sam (commenter) on
a 360 px phone chooses a paragraph and suggests a replacement; Priya (manager) at her desk
(1280 px) sees the redline appear within two seconds without reloading; Tom (editor), who works
in Word, downloads the document with the suggestion as a tracked change by Sam; Priya accepts
it, and her page shows the new version with the new text."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from e2e_support import DESKTOP, PHONE, page_width, sign_in
from lxml import etree
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.office import wordedit
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.tests.factories import docx_bytes, with_preview
from commonroom.workspaces.tests.factories import add_member, make_workspace

SHOTS = os.environ.get("COMMONROOM_SHOTS", "")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _open(new_page: Any, server: Any, who: Any, path: str, viewport: dict[str, int]) -> Any:
    page = new_page(who.full_name, base_url=server.url, viewport=viewport)
    sign_in(page, who.email, PASSWORD)
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_phone_suggests_the_desk_sees_the_redline_live_and_accepts_it(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    tom = UserFactory(email="tom@example.org", full_name="Tom Reid")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    add_member(ws, tom, "editor")
    doc = with_preview(
        priya,
        ws,
        "minutes.docx",
        docx_bytes("The board met on Tuesday.", "Apologies were received from Ann."),
    )
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    desk = _open(new_page, asgi_server, priya, path, DESKTOP)
    phone = _open(new_page, asgi_server, sam, path, PHONE)

    # On the phone: open "Suggest a change", choose the second paragraph, replace it.
    phone.get_by_text("Suggest a change", exact=True).click()
    phone.get_by_label("Paragraph of version 1").select_option(
        label="Apologies were received from Ann."
    )
    phone.get_by_label("Replace").check()
    phone.get_by_label("New text").fill("Apologies were received from Ann and Bo.")
    phone.get_by_label("Reason (optional)").first.fill("Bo sent apologies too.")
    _shot(phone, "suggest-form-360")
    started = time.monotonic()
    phone.get_by_role("button", name="Suggest the change").click()

    # At the desk: the redline appears after its paragraph of the preview, and in the list.
    redline = desk.locator(".cr-preview__body .cr-redline")
    expect(redline).to_contain_text("Ann and Bo.", timeout=2000)
    elapsed = time.monotonic() - started
    assert elapsed < 2, f"the suggestion took {elapsed:.2f} s to reach the desk"
    expect(redline.locator("del")).to_contain_text("Apologies were received from Ann.")
    expect(redline.locator("ins")).to_contain_text("Apologies were received from Ann and Bo.")
    item = desk.locator("article.cr-suggestion")
    expect(item).to_contain_text("Sam Okafor")
    expect(item).to_contain_text("Reason: Bo sent apologies too.")
    # The phone shows its own suggestion once, in the list, and nothing sideways at 360 px.
    expect(phone.locator("article.cr-suggestion")).to_have_count(1)
    assert page_width(phone) <= PHONE["width"]
    _shot(phone, "suggestions-360")
    _shot(desk, "suggestions-1280")
    # WCAG 2.2 AA on both screens, with the redline, the form and the decisions shown.
    phone.get_by_text("Suggest a change", exact=True).click()
    assert violations(phone) == []
    assert violations(desk) == []

    # Tom, who works in Word, downloads it with the suggestion as Sam's tracked change and the
    # reason as Sam's Word comment.
    word = _open(new_page, asgi_server, tom, path, DESKTOP)
    with word.expect_download() as downloading:
        word.get_by_role("link", name="Download with suggestions as tracked changes").click()
    download = downloading.value
    assert download.suggested_filename == "minutes (version 1, with suggestions).docx"
    data = Path(download.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        body = etree.fromstring(archive.read("word/document.xml"))
        notes = etree.fromstring(archive.read("word/comments.xml"))
    assert {e.get(f"{W}author") for e in body.iter(f"{W}ins")} == {"Sam Okafor"}
    assert {e.get(f"{W}author") for e in body.iter(f"{W}del")} == {"Sam Okafor"}
    assert [(c.get(f"{W}author"), "".join(c.itertext())) for c in notes.iter(f"{W}comment")] == [
        ("Sam Okafor", "Bo sent apologies too.")
    ]
    assert wordedit.paragraphs(wordedit.accept_all_revisions(data)) == [
        "The board met on Tuesday.",
        "Apologies were received from Ann and Bo.",
    ]
    word.close()

    # Priya accepts it: her page shows version 2 with the new text.
    item.get_by_role("button", name="Accept the suggestion by Sam Okafor").click()
    expect(desk.locator(".cr-preview__body")).to_contain_text(
        "Apologies were received from Ann and Bo."
    )
    expect(desk.locator(".cr-preview")).to_have_attribute("data-version", "2")
    expect(desk.locator("article.cr-suggestion")).to_contain_text("Accepted in version 2.")
    expect(desk.locator(".cr-preview__body .cr-redline")).to_have_count(0)
    # The phone is told too: the suggestion there now says it was accepted, and so does its
    # thread in the Comments list, resolved by Priya.
    expect(phone.locator("article.cr-suggestion")).to_contain_text(
        "Accepted in version 2.", timeout=2000
    )
    thread = phone.locator(f"#thread-{Suggestion.objects.get().comment_id}")
    expect(thread.locator(".cr-thread-suggestion")).to_contain_text(
        "Accepted in version 2.", timeout=2000
    )
    expect(thread.locator(".cr-thread-suggestion ins")).to_contain_text("Ann and Bo.")
    expect(thread).to_contain_text("Resolved by Priya Shah")
    _shot(desk, "accepted-1280")
    assert Suggestion.objects.get().state == State.ACCEPTED
    assert doc.versions.count() == 2
    assert page_problems.seen == []


SELECT = """([id, from, to]) => {
  const block = document.getElementById(id);
  const text = document.createTreeWalker(block, NodeFilter.SHOW_TEXT).nextNode();
  const range = document.createRange();
  range.setStart(text, from);
  range.setEnd(text, to);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  document.dispatchEvent(new Event("selectionchange"));
}"""


def test_words_selected_at_the_desk_are_suggested_and_a_refusal_is_said_in_the_form(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = with_preview(priya, ws, "minutes.docx", docx_bytes("The board met on Tuesday."))
    desk = _open(new_page, asgi_server, priya, f"/w/{ws.pk}/d/{doc.pk}/", DESKTOP)
    desk.evaluate(SELECT, ["p-1", 17, 24])  # "Tuesday"
    desk.get_by_role("button", name="Suggest a change").click()
    form = desk.locator("form[data-suggest-form]")
    expect(form.locator("[data-suggest-passage]")).to_contain_text("Tuesday")
    expect(form.get_by_label("Paragraph of version 1")).to_be_hidden()
    expect(form.get_by_label("Replace")).to_be_focused()
    # The same words again: refused with the service's sentence, shown in the form.
    form.get_by_label("New text").fill("Tuesday")
    form.get_by_role("button", name="Suggest the change").click()
    expect(form.locator("[data-suggestion-error]")).to_have_text(
        "The new text is the same as the passage: nothing would change."
    )
    form.get_by_label("New text").fill("Wednesday")
    form.get_by_role("button", name="Suggest the change").click()
    item = desk.locator("article.cr-suggestion")
    expect(item).to_have_count(1)
    expect(item.locator("ins")).to_contain_text("Wednesday")
    expect(desk.locator(".cr-preview__body .cr-redline del")).to_have_text("Delete: Tuesday")
    made = Suggestion.objects.get()
    assert (made.quote, made.new_text, made.start, made.end) == ("Tuesday", "Wednesday", 17, 24)
    # Rejected with a reason, in place: the redline goes, the thread stays.
    item.locator(".cr-suggestion__reject summary").click()
    item.get_by_label("Reason (optional)").fill("It was Tuesday.")
    item.get_by_role("button", name="Reject the suggestion").click()
    expect(desk.locator("article.cr-suggestion")).to_contain_text("Rejected: It was Tuesday.")
    card = desk.locator(f"#thread-{made.comment_id}")
    expect(card.locator(".cr-thread-suggestion")).to_contain_text("Rejected: It was Tuesday.")
    expect(card).to_contain_text("Resolved by Priya Shah")
    expect(desk.locator(".cr-preview__body .cr-redline")).to_have_count(0)
    # The browser reports the refused post (400) itself; nothing else went wrong.
    assert [p for p in page_problems.seen if "status of 400" not in p] == []
