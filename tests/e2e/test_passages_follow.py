"""Comments follow the text into a new version: Sam comments on two paragraphs of version 1;
Priya uploads version 2, where one of them is unchanged (but lower down) and the other amended.
On Sam's open page the threads learn it live; opened afresh on version 2, the marker is beside
the unchanged paragraph, its quote jumps there, and the other thread says that its passage
changed in version 2."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from e2e_support import DESKTOP, sign_in
from playwright.sync_api import expect
from test_accessibility import violations
from test_anchored_comments import SELECT

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments.models import Comment
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx(*paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _comment_on(page: Any, block: str, words: tuple[int, int], note: str) -> None:
    page.evaluate(SELECT, [block, *words])
    page.get_by_role("button", name="Comment on this passage").click()
    box = page.get_by_label("Add a comment")
    box.fill(note)
    box.press("Enter")
    expect(page.locator("article.cr-thread", has_text=note)).to_have_count(1)


def test_comments_follow_their_passages_into_the_next_version(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    first = _docx("The board met on Tuesday.", "The budget was agreed.", "Next meeting in May.")
    doc = upload_document(ws, priya, name="minutes.docx", content=first)
    path = f"/w/{ws.pk}/d/{doc.pk}/"

    page = new_page("Sam", base_url=asgi_server.url, viewport=DESKTOP)
    sign_in(page, sam.email, PASSWORD)
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    expect(page.locator("#p-2")).to_have_text("The budget was agreed.")
    _comment_on(page, "p-2", (4, 10), "Which budget?")
    _comment_on(page, "p-3", (16, 19), "May is too late.")
    kept = page.locator("article.cr-thread", has_text="Which budget?")
    amended = page.locator("article.cr-thread", has_text="May is too late.")

    # Version 2: a paragraph added on top (the budget's is now the third), May amended.
    second = _docx(
        "Apologies from Tom.",
        "The board met on Tuesday.",
        "The budget was agreed.",
        "Next meeting in June.",
    )
    version_upload(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        uploaded=SimpleUploadedFile("minutes.docx", second, content_type=DOCX),
    )
    # Live, without reloading: the new version's preview comes in with its marker, and each
    # thread says where its passage is now.
    expect(page.locator("#cr-live-banner")).to_contain_text("uploaded version 2")
    expect(page.locator("#p-4")).to_have_text("Next meeting in June.")
    expect(amended).to_contain_text("The passage changed in version 2.")
    expect(kept.locator(".cr-comment__quote-link")).to_have_attribute("href", "#p-3")
    marker = page.locator('.cr-anchors[data-anchor-for="p-3"]')
    expect(marker).to_contain_text("1 comment")
    expect(page.locator(".cr-anchors")).to_have_count(1)

    # Opened afresh on version 2, as everyone else sees it.
    page.reload()
    expect(page.locator("#p-3")).to_have_text("The budget was agreed.")
    marker = page.locator('.cr-anchors[data-anchor-for="p-3"]')
    expect(marker).to_contain_text("1 comment")
    expect(page.locator(".cr-anchors")).to_have_count(1)
    block, badge = page.locator("#p-3").bounding_box(), marker.bounding_box()
    assert block is not None and badge is not None
    # In the right margin, level with the unchanged paragraph.
    assert badge["x"] >= block["x"] + block["width"]
    assert badge["y"] < block["y"] + block["height"] + 4
    assert badge["y"] + badge["height"] > block["y"] - 4
    expect(amended).to_contain_text("The passage changed in version 2.")
    expect(amended.locator("blockquote")).to_have_text("May")  # the quote stays readable
    expect(amended.locator(".cr-comment__quote-link")).to_have_count(0)
    assert violations(page) == []
    kept.locator(".cr-comment__quote-link").click()
    page.wait_for_url(f"**{path}#p-3")
    assert page.evaluate("document.querySelector(':target').id") == "p-3"
    # The thread's own anchor is as it was written, on version 1.
    thread = Comment.objects.get(body="Which budget?")
    assert (thread.version.number, thread.anchor_position) == (
        1,
        {"block": "p-2", "start": 4, "end": 10},
    )
    assert page_problems.seen == []
