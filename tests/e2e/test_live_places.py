"""Renames, moves, new folders and the trash reach the open pages of another browser within
seconds: Priya changes things at her desk, Sam watches the workspace page on his desk and the
document's page on his phone, over ASGI with websockets. And conversations, whose events (ids
only) the page turns into the fragments it fetches."""

from __future__ import annotations

import time
from typing import Any

from e2e_support import PHONE, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.conversations.services import conversation_start, message_post
from commonroom.documents import services
from commonroom.documents.models import Document, Folder
from commonroom.documents.selectors import document_access
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

SOON = 3000  # ms: "within seconds", with room for a busy test machine


def _world() -> tuple[Any, Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya, name="Board meetings")
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes.txt")
    return priya, sam, ws, doc


def _open(new_page: Any, server: Any, who: Any, path: str, **kwargs: Any) -> Any:
    page = new_page(who.full_name, base_url=server.url, **kwargs)
    sign_in(page, who.email, PASSWORD)
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page


def _within(started: float, what: str, seconds: float = SOON / 1000) -> None:
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"{what} took {elapsed:.2f} s"


def test_renames_moves_folders_and_the_trash_reach_another_browsers_pages(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    priya, sam, ws, doc = _world()
    listing = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/")
    phone = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/", viewport=PHONE)
    desk = _open(new_page, asgi_server, priya, f"/w/{ws.pk}/d/{doc.pk}/")
    files = listing.locator("#cr-listing")
    expect(files).to_contain_text("minutes.txt")

    # Priya renames the document from its page.
    desk.get_by_text("Rename, move or delete").click()
    desk.get_by_label("Name", exact=True).fill("Minutes March.txt")
    started = time.monotonic()
    desk.get_by_role("button", name="Rename").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Minutes March.txt", timeout=SOON)
    expect(files.get_by_role("link", name="Minutes March.txt")).to_be_visible(timeout=SOON)
    _within(started, "the rename")
    expect(files).not_to_contain_text("minutes.txt")
    assert phone.title().startswith("Minutes March.txt \u2013 Board meetings")

    # A new folder appears in the list; the document moves into it: it leaves the top level,
    # and the phone's breadcrumbs show where it is now.
    access = workspace_access(user=priya, workspace_id=ws.pk)
    started = time.monotonic()
    board = services.folder_create(actor=priya, access=access, name="Board papers")
    expect(files.get_by_role("link", name="Board papers (folder)")).to_be_visible(timeout=SOON)
    _within(started, "the new folder")
    started = time.monotonic()
    services.document_move(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        folder=board,
    )
    expect(files.get_by_role("link", name="Minutes March.txt")).to_have_count(0, timeout=SOON)
    crumbs = phone.locator("#cr-breadcrumbs")
    expect(crumbs).to_contain_text("Board papers", timeout=SOON)
    _within(started, "the move")

    # The folder is renamed: the list and the document's breadcrumbs follow.
    started = time.monotonic()
    services.folder_rename(actor=priya, access=access, folder=board, name="Board 2025")
    expect(files.get_by_role("link", name="Board 2025 (folder)")).to_be_visible(timeout=SOON)
    expect(crumbs).to_contain_text("Board 2025", timeout=SOON)
    _within(started, "the folder's rename")

    # Sam opens the folder. Priya moves the document to the trash: it leaves the folder's list,
    # and the phone says where it went and stops offering to comment.
    listing.get_by_role("link", name="Board 2025 (folder)").click()
    expect(listing.locator("html")).to_have_attribute("data-live", "open")
    files = listing.locator("#cr-listing")
    expect(files).to_contain_text("Minutes March.txt")
    started = time.monotonic()
    services.document_delete(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
    )
    banner = phone.locator("#cr-live-banner")
    expect(banner).to_contain_text("moved to the trash", timeout=SOON)
    expect(files).not_to_contain_text("Minutes March.txt", timeout=SOON)
    _within(started, "the trash")
    expect(phone.get_by_label("Add a comment")).to_be_disabled()

    # Restored: back in the folder's list, and the phone says it is back.
    started = time.monotonic()
    services.document_restore(actor=priya, access=access, document=Document.objects.get(pk=doc.pk))
    expect(files.get_by_role("link", name="Minutes March.txt")).to_be_visible(timeout=SOON)
    expect(banner).to_contain_text("back from the trash", timeout=SOON)
    _within(started, "the restore")

    # The folder Sam is looking at goes to the trash with the document in it: both pages say so.
    started = time.monotonic()
    services.folder_delete(actor=priya, access=access, folder=Folder.objects.get(pk=board.pk))
    expect(listing.locator("#cr-live-banner")).to_contain_text(
        "“Board 2025” has been moved to the trash", timeout=SOON
    )
    expect(banner).to_contain_text("with this document", timeout=SOON)
    _within(started, "the folder's trash")
    assert page_problems.seen == []


def test_messages_and_conversations_reach_another_browser_from_the_events_ids(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    """The events name a conversation and a message; the page finds where they go and fetches
    them (the message, the list's row) by the URLs it derives."""
    priya, sam, ws, _doc = _world()
    access = workspace_access(user=priya, workspace_id=ws.pk)
    topic = conversation_start(actor=priya, access=access, title="Rota", body="Who covers Friday?")
    listing = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/c/")
    phone = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/c/{topic.pk}/", viewport=PHONE)

    started = time.monotonic()
    message_post(actor=priya, access=access, conversation_id=topic.pk, body="I can do the late.")
    messages = phone.locator(f'[data-live-list="conversation:{topic.pk}"]')
    expect(messages).to_contain_text("I can do the late.", timeout=SOON)
    expect(listing.locator(f"#conversation-{topic.pk}")).to_contain_text("2 messages", timeout=SOON)
    _within(started, "the message")

    started = time.monotonic()
    conversation_start(actor=priya, access=access, title="Leave", body="Dates for August?")
    expect(listing.get_by_role("link", name="Leave")).to_be_visible(timeout=SOON)
    _within(started, "the new conversation")
    assert page_problems.seen == []


def test_a_seal_and_a_reopening_reach_another_browsers_pages(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    from django.db import transaction

    priya, sam, ws, doc = _world()
    listing = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/")
    phone = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/", viewport=PHONE)
    record = phone.locator("#cr-record")
    expect(record).not_to_contain_text("Final record")

    # An approval's rule is met: version 1 becomes the final record.
    started = time.monotonic()
    with transaction.atomic():
        sealed = Document.objects.get(pk=doc.pk)
        services.version_seal(actor=priya, document=sealed, version=sealed.versions.get())
    expect(record).to_contain_text("Version 1 is this document's final record", timeout=SOON)
    expect(phone.locator("#cr-live-banner")).to_contain_text("has been sealed", timeout=SOON)
    expect(listing.locator("#cr-listing")).to_contain_text("Final record", timeout=SOON)
    _within(started, "the seal")

    # Priya reopens it: the record part goes, the banner says versions continue above it.
    started = time.monotonic()
    services.document_reopen(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk),
        reason="Item 4 had a typo.",
    )
    expect(record).not_to_contain_text("Final record", timeout=SOON)
    expect(phone.locator("#cr-live-banner")).to_contain_text("has been reopened", timeout=SOON)
    expect(listing.locator("#cr-listing")).not_to_contain_text("Final record", timeout=SOON)
    _within(started, "the reopening")
    assert page_problems.seen == []
