"""Every main page passes axe-core's WCAG 2.0/2.1/2.2 A and AA rules, on a phone and a desktop.

The pages are checked with something on them: a document with comment threads (a reply, a
resolved thread, a deleted and an edited comment, a mention), conversations with an unread
badge, a linked document and edited and deleted messages, notifications and "what needs me";
and in the states a person opens: the Reply form, the @mention suggestions.

axe-core is pinned by package-lock.json (a development dependency) and its one script file is
kept in tests/e2e/vendor/, so the check runs offline; the browser driver evaluates it in the page
under test: it is never served by the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import DESKTOP, PHONE, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments import services as comments
from commonroom.conversations import services as conversations
from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import new_version, upload
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# NHS.UK frontend's own file-upload button (v10) is named by its label plus its text; axe's
# experimental label-in-name rule reads its run-together spans as a mismatch. The test below
# checks what that rule is for: the button's accessible name holds its visible words.
UPSTREAM_FILE_BUTTONS = {"#files", "#version-file"}


def violations(page: Any) -> list[str]:
    # Evaluated through the driver, which the page's Content-Security-Policy does not govern.
    page.evaluate(AXE + "\n;undefined")
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        f"{[(n['target'], n.get('failureSummary')) for n in v['nodes']][:3]}"
        for v in result["violations"]
        if not (
            v["id"] == "label-content-name-mismatch"
            and all(n["target"][0] in UPSTREAM_FILE_BUTTONS for n in v["nodes"])
        )
    ]


def seed_discussion(ws: Any, document: Any, priya: Any, tom: Any, sam: Any) -> Any:
    """Comments and a conversation written through the services, as people would write them;
    returns the conversation. Tom mentions Priya and answers her thread, so her "what needs me"
    sections are not empty."""

    def doc_as(user: Any) -> Any:
        return document_access(user=user, workspace_id=ws.pk, document_id=document.pk)

    def ws_as(user: Any) -> Any:
        return workspace_access(user=user, workspace_id=ws.pk)

    mine = comments.comment_create(
        actor=priya,
        doc_access=doc_as(priya),
        version_number=1,
        body="Item 3: the community figure looks like **Q2's**.",
        anchor_quote="Community services: 4.1m",
    )
    comments.comment_reply(
        actor=tom,
        doc_access=doc_as(tom),
        comment_id=mine.pk,
        body="Corrected in version 2, @priya. See https://example.org/budget for the source.",
    )
    done = comments.comment_create(
        actor=sam, doc_access=doc_as(sam), body="Typo in the heading of item 5."
    )
    comments.comment_set_resolved(
        actor=priya, doc_access=doc_as(priya), comment_id=done.pk, resolved=True
    )
    gone = comments.comment_create(actor=tom, doc_access=doc_as(tom), body="Ignore this one.")
    comments.comment_reply(actor=sam, doc_access=doc_as(sam), comment_id=gone.pk, body="Which one?")
    comments.comment_delete(actor=tom, doc_access=doc_as(tom), comment_id=gone.pk)
    edited = comments.comment_create(
        actor=priya, doc_access=doc_as(priya), body="Action 4 has no owner."
    )
    comments.comment_edit(
        actor=priya,
        doc_access=doc_as(priya),
        comment_id=edited.pk,
        body="Action 4 has no owner yet: _@sam_ could you take it?",
    )
    topic = conversations.conversation_start(
        actor=priya,
        access=ws_as(priya),
        title="Month 7 deficit recovery plan",
        body="Please read the amended minutes before Thursday.",
        document=document,
    )
    conversations.message_post(
        actor=tom,
        access=ws_as(tom),
        conversation_id=topic.pk,
        body="@priya agency spend is the big one; the minutes cover it.",
        document_id=document.pk,
    )
    typo = conversations.message_post(
        actor=sam, access=ws_as(sam), conversation_id=topic.pk, body="I'll bring teh forecast."
    )
    conversations.message_edit(
        actor=sam,
        access=ws_as(sam),
        conversation_id=topic.pk,
        message_id=typo.pk,
        body="I'll bring the forecast.",
    )
    wrong = conversations.message_post(
        actor=tom, access=ws_as(tom), conversation_id=topic.pk, body="Wrong room, sorry."
    )
    conversations.message_delete(
        actor=tom, access=ws_as(tom), conversation_id=topic.pk, message_id=wrong.pk
    )
    return topic


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_main_pages_have_no_wcag_violations(
    new_page: Any, viewport: dict[str, int], transactional_db: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    tom = UserFactory(email="tom@example.org", full_name="Tom Evans")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    add_member(ws, tom, "editor")
    add_member(ws, sam, "commenter")
    v1 = upload(priya, ws, "minutes-2026-11-24.docx", b"draft")
    new_version(priya, v1.document, b"amended", based_on_number=1)
    topic = seed_discussion(ws, v1.document, priya, tom, sam)
    # Read before the pages that mark things read: home (its "what needs me" sections), the
    # notifications, the conversation list (its unread badge), then the conversation.
    pages = {
        "sign in": "/accounts/login/",
        "home": "/",
        "notifications": "/notifications/",
        "notification settings": "/account/notifications/",
        "conversations": f"/w/{ws.pk}/c/",
        "conversation": f"/w/{ws.pk}/c/{topic.pk}/",
        "workspace": f"/w/{ws.pk}/",
        "document": f"/w/{ws.pk}/d/{v1.document_id}/",
        "people": f"/w/{ws.pk}/members/",
        "audit trail": f"/w/{ws.pk}/audit/",
        "trash": f"/w/{ws.pk}/trash/",
        "settings": f"/w/{ws.pk}/settings/",
        "security": "/account/security/",
        "API tokens": "/account/tokens/",
        # The second factor's pages (no password asked again: she signed in a moment ago)
        "choose a second factor": "/accounts/second-factor/",
        "code by email": "/accounts/second-factor/email/",
        "authenticator app": "/accounts/2fa/totp/activate/",
        "passkey": "/accounts/2fa/webauthn/add/",
    }
    page = new_page("Priya", viewport=viewport)
    found: dict[str, list[str]] = {}
    page.goto(pages.pop("sign in"))
    found["sign in"] = violations(page)
    sign_in(page, priya.email, PASSWORD)
    for name, path in pages.items():
        page.goto(path)
        if name == "home":  # the seeded mentions and reply are on show
            for heading in ("Mentions", "Threads waiting for you"):
                expect(page.get_by_role("heading", name=heading)).to_be_visible()
        if name == "notifications":
            expect(page.locator(".cr-notification").first).to_be_visible()
        if name == "conversations":
            expect(page.locator(".cr-unread:visible").first).to_be_visible()
        found[name] = violations(page)
    # The new-version form, opened.
    page.goto(pages["document"])
    page.get_by_text("Upload a new version").click()
    found["document, new version form open"] = violations(page)
    # Label in name, for the file-upload buttons: spoken name includes the visible words.
    name = page.get_by_role("button", name="Choose file for the new version").evaluate(
        "b => b.innerText"
    )
    assert "Choose file" in name
    # A thread's Reply form, opened.
    page.goto(pages["document"])
    page.locator("details.cr-reply > summary").first.click()
    expect(page.get_by_label("Your reply").first).to_be_visible()
    found["document, reply open"] = violations(page)
    # The @mention suggestions, listed under the composer.
    box = page.get_by_label("Add a comment")
    box.click()
    box.press_sequentially("@pri")
    expect(page.get_by_role("listbox", name="People to mention")).to_be_visible()
    expect(page.get_by_role("option", name="Priya Shah")).to_be_visible()
    found["document, mention suggestions open"] = violations(page)
    failing = {name: v for name, v in found.items() if v}
    assert failing == {}, "\n".join(f"{name}: {v}" for name, v in failing.items())


UNOBSCURED = """() => {
  // The middle of what shows in the window of the focused element (of any line of a wrapped
  // link) is the element itself, not something drawn over it.
  const el = document.activeElement;
  return Array.from(el.getClientRects()).some(r => {
    const left = Math.max(r.left, 0), right = Math.min(r.right, innerWidth);
    const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, innerHeight);
    if (left >= right || top >= bottom) return false;
    const hit = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
    return hit !== null && el.contains(hit);
  });
}"""
FOCUS_CHECK = """() => {
  // How the focused element and everything in it look; then the same, unfocused.
  const el = document.activeElement;
  const parts = [el, ...el.querySelectorAll('*')];
  const look = () => parts.map(n => {
    const s = getComputedStyle(n);
    return [s.outlineStyle, s.outlineWidth, s.boxShadow, s.backgroundColor, s.color].join('|');
  }).join(';');
  const focused = look();
  const visible = el.matches(':focus-visible');
  el.blur();
  const changed = look() !== focused;
  el.focus();
  return {visible, changed};
}"""


def tab_to(page: Any, selector: str, limit: int = 200) -> dict[str, bool]:
    """Press Tab until ``selector`` has the focus, checking that every element focused on the
    way is in sight (WCAG 2.4.11: not under the composer a phone keeps at its foot); then how
    that focus shows (FOCUS_CHECK)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        where = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        assert page.evaluate(UNOBSCURED) is True, f"focus hidden on {where}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return dict(page.evaluate(FOCUS_CHECK))
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_keyboard_reaches_reply_and_send_with_visible_focus(
    new_page: Any, viewport: dict[str, int], transactional_db: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    tom = UserFactory(email="tom@example.org", full_name="Tom Evans")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    add_member(ws, tom, "editor")
    add_member(ws, sam, "commenter")
    v1 = upload(priya, ws, "minutes-2026-11-24.docx", b"draft")
    topic = seed_discussion(ws, v1.document, priya, tom, sam)
    page = new_page("Priya", viewport=viewport)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{v1.document_id}/")
    shown = {"visible": True, "changed": True}
    # A thread's Reply opens from the keyboard; its Send follows its box.
    assert tab_to(page, "details.cr-reply > summary") == shown
    page.keyboard.press("Enter")
    assert tab_to(page, "details.cr-reply[open] textarea") == shown
    assert tab_to(page, "details.cr-reply[open] button[type=submit]") == shown
    # On, past the resolved thread, to the composer's Send after its box.
    assert tab_to(page, "#comment-body ~ button[type=submit]") == shown
    # A conversation, from the top to its Send.
    page.goto(f"/w/{ws.pk}/c/{topic.pk}/")
    assert tab_to(page, "form.cr-composer > button[type=submit]") == shown
