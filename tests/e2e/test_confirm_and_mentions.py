"""What only a browser shows: a delete asks first (data-confirm through window.confirm, and
nothing is sent when the person says no); "@" alone lists members to pick from, in the
document composer and in a conversation message's edit form; and, on a phone, the comments'
layout (room under "Stop following", quotes set off, code blocks that scroll in place)."""

from __future__ import annotations

from typing import Any

from e2e_support import PHONE, page_width, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments.models import Comment
from commonroom.comments.services import comment_create
from commonroom.conversations.services import conversation_start
from commonroom.documents.selectors import document_access
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def _world() -> tuple[Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    return priya, sam, ws


def test_deleting_a_comment_asks_and_a_no_sends_nothing(new_page: Any, page_problems: Any) -> None:
    priya, sam, ws = _world()
    doc = upload_document(ws, priya, name="minutes.txt")
    access = document_access(user=sam, workspace_id=ws.pk, document_id=doc.pk)
    comment = comment_create(actor=sam, doc_access=access, body="Off topic, sorry")
    page = new_page("Priya")
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    thread = page.locator(f"#thread-{comment.pk}")
    delete_url = str(thread.locator("form[data-confirm]").get_attribute("action"))
    assert delete_url.endswith(f"/comments/{comment.pk}/delete/")
    posted: list[str] = []

    def note_post(request: Any) -> None:
        if request.method == "POST" and request.url.endswith(delete_url):
            posted.append(request.url)

    page.on("request", note_post)
    asked: list[str] = []

    def say_no(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", say_no)
    thread.get_by_role("button", name="Delete the comment by Sam Okafor").click()
    expect(thread).to_contain_text("Off topic, sorry")
    assert asked == [
        "Delete the comment by Sam Okafor? Its words are removed for everyone; the thread stays."
    ]
    comment.refresh_from_db()
    assert comment.deleted_at is None

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#thread-{comment.pk}").get_by_role(
        "button", name="Delete the comment by Sam Okafor"
    ).press("Enter")
    expect(page.locator(f"#thread-{comment.pk}")).to_contain_text("This comment was deleted")
    assert Comment.objects.get(pk=comment.pk).deleted_at is not None
    # The "no" sent nothing: the only request to delete is the one after "yes".
    assert len(posted) == 1
    assert page_problems.seen == []


def test_at_alone_lists_members_in_the_composer_and_the_message_edit_form(
    new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws = _world()
    doc = upload_document(ws, priya, name="minutes.txt")
    page = new_page("Sam")
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    box = page.get_by_label("Add a comment")
    box.press_sequentially("Could @")
    options = page.locator(".cr-composer").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("Priya Shah")
    expect(page.locator(".cr-composer .cr-mentions")).not_to_contain_text("@example.org")

    access = workspace_access(user=sam, workspace_id=ws.pk)
    conversation = conversation_start(actor=sam, access=access, title="Rota", body="Friday?")
    page.goto(f"/w/{ws.pk}/c/{conversation.pk}/")
    page.get_by_text("Edit or delete", exact=False).first.click()
    edit = page.locator(".cr-message__manage").get_by_label("Your message")
    edit.press("End")
    edit.press_sequentially(" @pri")
    listed = page.locator(".cr-message__manage").get_by_role("option")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Priya Shah")
    edit.press("Enter")
    # Typed as a name, never an address: it shows as "@Priya Shah" once sent.
    expect(edit).to_have_value("Friday? @priya ")
    assert page_problems.seen == []


def test_on_a_phone_quotes_stand_out_code_scrolls_in_place_and_following_has_room(
    new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws = _world()
    doc = upload_document(ws, priya, name="minutes.txt")
    access = document_access(user=sam, workspace_id=ws.pk, document_id=doc.pk)
    long_line = "rota = [" + ", ".join(f"nurse_{i}" for i in range(40)) + "]"
    comment_create(
        actor=sam, doc_access=access, body=f"> The figure is £2.4m\n\nWhy?\n\n```\n{long_line}\n```"
    )
    page = new_page("Sam", viewport=PHONE)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    follow = page.get_by_role("button", name="Stop following").bounding_box()
    heading = page.get_by_role("heading", name="Comments", exact=True).bounding_box()
    assert follow is not None and heading is not None
    assert heading["y"] - (follow["y"] + follow["height"]) >= 16
    quote = page.locator(".cr-comment__body blockquote")
    expect(quote).to_have_css("border-left-width", "8px")
    code = page.locator(".cr-comment__body pre")
    expect(code).to_contain_text(long_line)
    assert code.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page_width(page) <= PHONE["width"]
    assert page_problems.seen == []
