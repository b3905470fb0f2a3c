"""Comments on a passage of the preview, at the desk (1280 px) and on a phone (360 px): select
words in the "Read" section, press "Comment on this passage", post; the marker shows beside the
paragraph and the quote in the thread links back to it. The keyboard path too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.comments.models import Comment
from commonroom.comments.services import comment_create
from commonroom.documents.selectors import document_access
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.tests import files
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

SELECT = """([id, from, to]) => {
  const block = document.getElementById(id);
  const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
  const text = walker.nextNode();
  const range = document.createRange();
  range.setStart(text, from);
  range.setEnd(text, to);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  document.dispatchEvent(new Event("selectionchange"));
  block.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
}"""


def _world(tmp_path: Path) -> tuple[Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    doc = upload_document(ws, priya, name="minutes.docx", content=content)
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.READY  # made when the upload committed
    return sam, ws, doc


def _open(new_page: Any, server: Any, who: Any, path: str, viewport: dict[str, int]) -> Any:
    page = new_page(who.full_name, base_url=server.url, viewport=viewport)
    sign_in(page, who.email, PASSWORD)
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    return page


def test_a_passage_is_commented_on_at_the_desk_and_on_a_phone(
    asgi_server: Any, new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    sam, ws, doc = _world(tmp_path)
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    for viewport, words, note in (
        (DESKTOP, (4, 9), "At the desk: the board met."),
        (PHONE, (0, 3), "On the phone: which board?"),
    ):
        page = _open(new_page, asgi_server, sam, path, viewport)
        preview = page.locator(".cr-preview__body")
        expect(preview.locator("#p-3")).to_contain_text("The board met on Tuesday")
        # Readable on a phone: no sideways scrolling.
        assert page_width(page) <= viewport["width"]

        page.evaluate(SELECT, ["p-3", *words])
        button = page.get_by_role("button", name="Comment on this passage")
        expect(button).to_be_visible()
        button.click()
        quote = "The board met on "[words[0] : words[1]].strip()
        passage = page.locator("[data-anchor-passage]")
        expect(passage).to_be_visible()
        expect(passage).to_contain_text(quote)
        box = page.get_by_label("Add a comment")
        expect(box).to_be_focused()
        box.fill(note)
        box.press("Enter")

        thread = page.locator("article.cr-thread", has_text=note)
        expect(thread).to_have_count(1)
        expect(thread.locator(".cr-comment__quote-link")).to_have_text(f"The passage: {quote}")
        expect(passage).to_be_hidden()  # the next comment starts without a passage
        comment = Comment.objects.get(body=note)
        assert comment.anchor_position == {"block": "p-3", "start": words[0], "end": words[1]}
        assert comment.anchor_quote == quote

        # The marker beside the paragraph (server-made after a reload, as others see it).
        page.reload()
        marker = page.locator('.cr-anchors[data-anchor-for="p-3"]')
        count = Comment.objects.filter(anchor_position__isnull=False).count()
        expect(marker).to_contain_text(f"{count} comment")
        block = page.locator("#p-3").bounding_box()
        badge = marker.bounding_box()
        assert block is not None and badge is not None
        if viewport is DESKTOP:
            # In the right margin, level with the paragraph.
            assert badge["x"] >= block["x"] + block["width"]
            assert badge["y"] < block["y"] + block["height"] + 4
            assert badge["y"] + badge["height"] > block["y"] - 4
        else:
            # After the paragraph, inside the screen.
            assert badge["y"] >= block["y"] + block["height"] - 1
            assert badge["x"] + badge["width"] <= PHONE["width"]
        assert page_width(page) <= viewport["width"]
        assert violations(page) == []
        # The quote goes back to the passage, which is highlighted.
        page.locator("article.cr-thread", has_text=note).locator(".cr-comment__quote-link").click()
        page.wait_for_url(f"**{path}#p-3")
        assert page.evaluate("document.querySelector(':target').id") == "p-3"
        # The paragraph's text itself is untouched.
        expect(page.locator("#p-3")).to_have_text("The board met on Tuesday and agreed the budget.")
    assert page_problems.seen == []


# Whether the focused paragraph's "Suggest a change" button stands after it, before the next.
BESIDE = """(id) => {
  const p = document.getElementById(id);
  const next = document.getElementById("p-" + (Number(id.slice(2)) + 1));
  const b = [...document.querySelectorAll("button")].find(
    (x) => x.textContent.trim() === "Suggest a change");
  if (!p || !b) return false;
  const after = p.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING;
  const before = !next || next.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_PRECEDING;
  return Boolean(after && before);
}"""


def beside(page: Any, block: str) -> None:
    """Wait until the paragraph's two buttons are beside it: the second is added a moment after
    the focus (suggestions.js, after anchors.js), and a key pressed before would skip it, as no
    person's could."""
    page.wait_for_function(BESIDE, arg=block)


def test_the_keyboard_path_comments_on_a_whole_paragraph(
    asgi_server: Any, new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    sam, ws, doc = _world(tmp_path)
    page = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/", DESKTOP)
    toggle = page.get_by_role("button", name="Comment on a paragraph")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#p-1")).to_be_focused()
    # A focused paragraph offers its two buttons, "Comment on this paragraph" then "Suggest a
    # change", before the next paragraph.
    beside(page, "p-1")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Comment on this paragraph")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Suggest a change")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#p-2")).to_be_focused()
    beside(page, "p-2")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Comment on this paragraph")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Suggest a change")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#p-3")).to_be_focused()
    beside(page, "p-3")
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Comment on this paragraph")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    box = page.get_by_label("Add a comment")
    expect(box).to_be_focused()
    # The passage above the composer, focusable paragraphs, markers: WCAG A and AA hold.
    assert violations(page) == []
    box.fill("The whole paragraph.")
    box.press("Enter")
    expect(page.locator("article.cr-thread", has_text="The whole paragraph.")).to_have_count(1)
    comment = Comment.objects.get(body="The whole paragraph.")
    text = "The board met on Tuesday and agreed the budget."
    assert comment.anchor_position == {"block": "p-3", "start": 0, "end": len(text)}
    assert comment.anchor_quote == text
    # Arriving live on this screen, the thread is counted in the paragraph's marker.
    expect(page.locator('.cr-anchors[data-anchor-for="p-3"]')).to_contain_text("1 comment")
    assert page_problems.seen == []


def test_markers_follow_threads_live_on_a_readers_screen(
    asgi_server: Any, new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    """A reader who cannot comment sees a passage's marker appear when a thread is started on
    it, go when it is resolved and come back when it is reopened, without reloading."""
    sam, ws, doc = _world(tmp_path)
    nina = UserFactory(email="nina@example.org", full_name="Nina Brooks")
    add_member(ws, nina, "viewer")
    path = f"/w/{ws.pk}/d/{doc.pk}/"
    reader = _open(new_page, asgi_server, nina, path, PHONE)
    writer = _open(new_page, asgi_server, sam, path, DESKTOP)
    marker = reader.locator('.cr-anchors[data-anchor-for="p-3"]')
    expect(marker).to_have_count(0)

    writer.evaluate(SELECT, ["p-3", 4, 9])
    writer.get_by_role("button", name="Comment on this passage").click()
    box = writer.get_by_label("Add a comment")
    box.fill("Which board?")
    box.press("Enter")
    expect(marker).to_contain_text("1 comment")
    thread = writer.locator("article.cr-thread", has_text="Which board?")
    assert page_width(reader) <= PHONE["width"]

    thread.get_by_role("button", name="Resolve the thread").click()
    expect(marker).to_have_count(0)
    writer.locator("article.cr-thread", has_text="Which board?").get_by_role(
        "button", name="Reopen the thread"
    ).click()
    expect(marker).to_contain_text("1 comment")
    marker.locator("a").click()
    thread_id = Comment.objects.get(body="Which board?").pk
    reader.wait_for_url(f"**{path}#thread-{thread_id}")
    assert page_problems.seen == []


def test_a_picture_offers_no_paragraph_to_comment_on(
    asgi_server: Any, new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    sam, ws, doc = _world(tmp_path)
    picture = upload_document(ws, doc.created_by, name="ward.png", content=files.png_bytes())
    page = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{picture.pk}/", DESKTOP)
    expect(page.locator(".cr-preview-image img")).to_be_visible()
    expect(page.get_by_label("Add a comment")).to_be_visible()
    expect(page.get_by_role("button", name="Comment on a paragraph")).to_have_count(0)
    assert page_problems.seen == []


def test_a_marker_stays_level_with_its_paragraph_when_the_preview_grows(
    asgi_server: Any, new_page: Any, page_problems: Any, tmp_path: Path
) -> None:
    """At the desk the marker sits in the margin beside its paragraph; when something above
    the paragraph grows (a picture loading, a PDF page's text opened), the marker moves with it,
    without the window being resized."""
    sam, ws, doc = _world(tmp_path)
    access = document_access(user=sam, workspace_id=ws.pk, document_id=doc.pk)
    comment_create(
        actor=sam,
        doc_access=access,
        body="Which board?",
        anchor_quote="board",
        anchor_position={"block": "p-3", "start": 4, "end": 9},
    )
    page = _open(new_page, asgi_server, sam, f"/w/{ws.pk}/d/{doc.pk}/", DESKTOP)
    marker = page.locator('.cr-anchors[data-anchor-for="p-3"]')
    expect(marker).to_contain_text("1 comment")

    def gap() -> float:
        block = page.locator("#p-3").bounding_box()
        badge = marker.bounding_box()
        assert block is not None and badge is not None
        return abs(badge["y"] - block["y"])

    assert gap() < 4
    before = page.locator("#p-3").bounding_box()
    page.evaluate(
        "() => { const tall = document.createElement('div'); tall.style.height = '300px';"
        " document.getElementById('p-1').after(tall); }"
    )
    after = page.locator("#p-3").bounding_box()
    assert before is not None and after is not None
    assert after["y"] - before["y"] >= 299  # the paragraph moved down
    page.wait_for_function(
        """() => {
          const b = document.getElementById('p-3').getBoundingClientRect().top;
          const m = document.querySelector('.cr-anchors[data-anchor-for="p-3"]');
          return Math.abs(m.getBoundingClientRect().top - b) < 4;
        }""",
        timeout=2000,
    )
    assert gap() < 4
    assert page_problems.seen == []
