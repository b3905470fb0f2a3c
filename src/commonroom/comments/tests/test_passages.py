"""Threads anchored to a passage follow the text: when a new version's preview is made, each is
found again where its paragraph is unchanged (markers and quote links on the new version), or
says that its passage changed in that version; a version without a preview leaves them where
they were, saying so. Unanchored threads and suggestions' threads are left alone, and looking
again writes nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.comments import hooks
from commonroom.comments.models import Comment, PassageState, ThreadPassage
from commonroom.comments.passages import Place, follow, quote_at, reads_as
from commonroom.comments.services import comment_create, comment_set_resolved, passages_follow
from commonroom.documents.models import Document, Version
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.live.models import Event
from commonroom.previews.blocks import Block, utf16_length
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.selectors import preview_outcome
from commonroom.previews.tests import files

pytestmark = pytest.mark.django_db

V1 = b"Alpha one.\n\nBravo two, agreed by all.\n\nCharlie three."
# Bravo unchanged but now third (a paragraph added before it), Charlie changed.
V2 = b"Alpha one.\n\nA new point.\n\nBravo two, agreed by all.\n\nCharlie three, amended."


def _fresh(doc: Document) -> Document:
    return Document.objects.get(pk=doc.pk)


def _first(team: Any, capture: Any, content: bytes, name: str = "minutes.txt") -> Document:
    with capture(execute=True):  # the preview is made (a task, at once in tests) after commit
        return upload(team.editor, team.workspace, name, content).document


def _next(team: Any, capture: Any, doc: Document, content: bytes) -> Version:
    with capture(execute=True):
        return new_version(team.editor, _fresh(doc), content)


def _blocks(version: Version) -> list[Block]:
    made, blocks = preview_outcome(version.blob_id, workspace_id=version.document.workspace_id)
    assert made and blocks is not None
    return blocks


def _where(version: Version, quote: str, nth: int = 1) -> dict[str, Any]:
    """The ``nth`` block of ``version``'s preview holding ``quote``, with its offsets there as a
    browser counts them."""
    seen = 0
    for block in _blocks(version):
        at = block.text.find(quote)
        if at != -1:
            seen += 1
            if seen == nth:
                start = utf16_length(block.text[:at])
                return {"block": block.id, "start": start, "end": start + utf16_length(quote)}
    raise AssertionError(f"{quote!r} is not in version {version.number}")


def _comment(
    team: Any, doc: Document, quote: str, *, number: int | None = None, nth: int = 1
) -> Comment:
    doc = _fresh(doc)
    version = doc.versions.get(number=number or doc.current_version_number)
    return comment_create(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        body=f"About {quote}",
        version_number=version.number,
        anchor_quote=quote,
        anchor_position=_where(version, quote, nth),
    )


def _page(user: Any, doc: Document) -> str:
    c = Client()
    c.force_login(user)
    r = c.get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert r.status_code == 200
    return r.content.decode()


def _thread_html(page: str, thread: Comment) -> str:
    start = page.index(f'id="thread-{thread.pk}"')
    return page[start : page.index("</article>", start)]


def _marker_after(page: str, block: str) -> str:
    """What the page puts right after the block ``block`` of the preview."""
    start = page.index(f'<p id="{block}" class="cr-preview-text">')
    end = page.index("</p>", start) + len("</p>")
    return page[end : end + 300]


# --- The rule, on blocks ---------------------------------------------------------------------


def _b(id_: str, text: str, aside: bool = False) -> Block:
    return Block(id_, text, text, False, aside)


def test_a_passage_is_found_in_the_block_reading_the_same_in_its_rank() -> None:
    before = [_b("p-1", "Agreed."), _b("p-2", "Bravo."), _b("p-3", "Agreed.")]
    after = [_b("p-1", "New."), _b("p-2", "Agreed."), _b("p-3", "Bravo!"), _b("p-4", "Agreed.")]
    assert follow(Place("p-3", 0, 6), "Agreed", before, after) == (
        "found",
        Place("p-4", 0, 6),
    )
    assert follow(Place("p-1", 0, 6), "Agreed", before, after)[1] == Place("p-2", 0, 6)
    # Its paragraph changed; the second "Agreed." is not the first when one is gone.
    assert follow(Place("p-2", 0, 5), "Bravo", before, after) == ("changed", None)
    assert follow(Place("p-3", 0, 6), "Agreed", before, after[:3]) == ("changed", None)
    # The Word comments listed under a document are not its text.
    aside = [_b("p-9", "Bravo.", aside=True)]
    assert follow(Place("p-2", 0, 5), "Bravo", before, aside) == ("changed", None)


def test_a_place_that_does_not_read_as_its_quote_cannot_be_followed() -> None:
    before = [_b("p-1", "The board met on Tuesday.")]
    assert follow(Place("p-1", 4, 9), "board met", before, before) == ("unreadable", None)
    assert follow(Place("p-7", 0, 3), "The", before, before) == ("unreadable", None)
    assert follow(Place("p-1", 4, 99), "board", before, before) == ("unreadable", None)


def test_the_quote_is_read_as_the_page_sends_it() -> None:
    text = "Café  🙂 meets\n  on Tuesday"
    # UTF-16 offsets: the emoji counts two; whitespace folds as anchors.js folds it.
    assert quote_at(text, 0, utf16_length(text)) == "Café 🙂 meets on Tuesday"
    assert quote_at(text, 7, 8) is None  # inside the emoji
    long_text = "word " * 200
    sent = " ".join(long_text.split())[:500]  # the page sends at most 500 units
    assert reads_as(sent, long_text, Place("p-1", 0, utf16_length(long_text)))
    assert not reads_as(sent[:100], long_text, Place("p-1", 0, utf16_length(long_text)))


# --- Following a new version -----------------------------------------------------------------


def test_a_thread_on_an_unchanged_paragraph_moves_and_one_on_a_changed_paragraph_says_so(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    kept = _comment(team, doc, "agreed by all")
    amended = _comment(team, doc, "Charlie")
    plain = comment_create(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        body="Not about a passage",
    )
    v2 = _next(team, django_capture_on_commit_callbacks, doc, V2)

    moved = ThreadPassage.objects.get(thread=kept)
    assert (moved.version_id, moved.state) == (v2.pk, PassageState.FOUND)
    bravo = _where(v2, "agreed by all")
    assert {"block": moved.block, "start": moved.start, "end": moved.end} == bravo
    assert kept.anchor_position is not None
    assert bravo["block"] != kept.anchor_position["block"]  # it moved down a paragraph
    changed = ThreadPassage.objects.get(thread=amended)
    assert (changed.version_id, changed.state, changed.block) == (v2.pk, "changed", "")
    assert not ThreadPassage.objects.filter(thread=plain).exists()  # not anchored: untouched
    # The threads' own anchors stay as written.
    kept.refresh_from_db()
    assert kept.version.number == 1 and kept.anchor_position == _where(
        Version.objects.get(pk=kept.version_id), "agreed by all"
    )

    for role in ("viewer", "commenter", "editor", "manager"):
        page = _page(team.by_role[role], doc)
        assert _marker_after(page, bravo["block"]).startswith(
            f'<div class="cr-anchors" data-anchor-for="{bravo["block"]}" '
            f'data-threads="{kept.pk}"><a class="cr-anchors__link" href="#thread-{kept.pk}">'
            "1 comment"
        )
        assert page.count('class="cr-anchors"') == 1
        shown = _thread_html(page, kept)
        assert (
            f'<a class="cr-comment__quote-link" href="#{bravo["block"]}" data-version="2">' in shown
        )
        assert "The passage changed" not in shown
        other = _thread_html(page, amended)
        assert "The passage changed in version 2." in other
        assert '<blockquote class="cr-comment__quote">Charlie</blockquote>' in other
        assert "cr-comment__quote-link" not in other
        assert "The passage" not in _thread_html(page, plain)

    # Open pages are told once, with ids and facts.
    (event,) = Event.objects.filter(kind="comment.passages")
    assert event.data == {
        "document": str(doc.pk),
        "number": 2,
        "found": [str(kept.pk)],
        "changed": [str(amended.pk)],
        "unchecked": [],
        "more": 0,
    }


def test_an_event_names_a_bounded_number_of_threads_and_counts_the_rest(
    team: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from commonroom.comments import services

    monkeypatch.setattr(services, "PASSAGES_LISTED", 1)
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    kept, amended = _comment(team, doc, "agreed by all"), _comment(team, doc, "Charlie")
    _next(team, django_capture_on_commit_callbacks, doc, V2)
    assert ThreadPassage.objects.filter(thread__in=[kept, amended]).count() == 2  # both written
    (event,) = Event.objects.filter(kind="comment.passages")
    assert event.data == {
        "document": str(doc.pk),
        "number": 2,
        "found": [str(kept.pk)],
        "changed": [],
        "unchecked": [],
        "more": 1,
    }


def test_looking_again_writes_nothing_twice(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    kept, amended = _comment(team, doc, "agreed by all"), _comment(team, doc, "Charlie")
    v2 = _next(team, django_capture_on_commit_callbacks, doc, V2)
    rows = list(ThreadPassage.objects.order_by("pk").values())
    events = Event.objects.count()
    # Again, as a preview made again would, or both after-commit paths of one version.
    with django_capture_on_commit_callbacks(execute=True):
        assert passages_follow(sha256=v2.blob_id) == 0
        assert passages_follow(sha256=v2.blob_id, document_id=doc.pk) == 0
    assert list(ThreadPassage.objects.order_by("pk").values()) == rows
    assert Event.objects.count() == events
    # A third version: the moved thread is followed from where it was found; the changed one
    # is not looked for any more.
    v3 = _next(team, django_capture_on_commit_callbacks, doc, V2 + b"\n\nDelta four.")
    third = ThreadPassage.objects.get(thread=kept, version=v3)
    assert (third.state, third.block) == ("found", _where(v3, "agreed by all")["block"])
    assert not ThreadPassage.objects.filter(thread=amended, version=v3).exists()
    assert ThreadPassage.objects.count() == 3


def test_duplicated_paragraphs_keep_their_rank(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, b"Agreed.\n\nMiddle.\n\nAgreed.")
    second = _comment(team, doc, "Agreed", nth=2)
    v2 = _next(
        team, django_capture_on_commit_callbacks, doc, b"Top.\n\nAgreed.\n\nMiddle.\n\nAgreed."
    )
    found = ThreadPassage.objects.get(thread=second, version=v2)
    assert found.state == "found"
    assert found.block == _where(v2, "Agreed", nth=2)["block"] == "p-4"
    # One "Agreed." left: it may be either, so the second one's passage changed.
    v3 = _next(team, django_capture_on_commit_callbacks, doc, b"Top.\n\nAgreed.\n\nMiddle.")
    assert ThreadPassage.objects.get(thread=second, version=v3).state == "changed"
    assert "The passage changed in version 3." in _page(team.viewer, doc)


def test_a_version_without_a_preview_leaves_threads_where_they_were_and_says_so(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    source = files.rich_docx(tmp_path / "minutes.docx")
    doc = _first(team, django_capture_on_commit_callbacks, source.read_bytes(), "minutes.docx")
    thread = _comment(team, doc, "Tuesday")
    broken = files.truncated(tmp_path / "broken.docx", source).read_bytes()
    v2 = _next(team, django_capture_on_commit_callbacks, doc, broken)
    assert Preview.objects.get(blob_id=v2.blob_id).status == PreviewStatus.FAILED
    row = ThreadPassage.objects.get(thread=thread)
    assert (row.version_id, row.state) == (v2.pk, "no_preview")
    page = _page(team.viewer, doc)
    assert "The passage could not be checked in version 2: it has no preview." in (
        _thread_html(page, thread)
    )
    assert "data-anchor-for" not in page
    (event,) = Event.objects.filter(kind="comment.passages")
    assert event.data["unchecked"] == [str(thread.pk)]
    # The next version with a preview is looked in from where the thread was written.
    again = files.rich_docx(tmp_path / "again.docx")
    import docx

    edited = docx.Document(str(again))
    edited.add_paragraph("A paragraph added in version 3.")
    edited.save(str(again))
    v3 = _next(team, django_capture_on_commit_callbacks, doc, again.read_bytes())
    found = ThreadPassage.objects.get(thread=thread, version=v3)
    assert thread.anchor_position is not None
    assert (found.state, found.block) == ("found", thread.anchor_position["block"])
    page = _page(team.viewer, doc)
    assert "could not be checked" not in page
    assert f'data-anchor-for="{found.block}" data-threads="{thread.pk}"' in page


def test_a_version_whose_preview_was_already_made_is_looked_in_at_once(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V2)
    _next(team, django_capture_on_commit_callbacks, doc, V1)
    thread = _comment(team, doc, "agreed by all")  # on version 2 (V1's text)
    # Version 3 has version 1's bytes: its preview exists, none is made for it.
    v3 = _next(team, django_capture_on_commit_callbacks, doc, V2)
    assert v3.blob_id == _fresh(doc).versions.get(number=1).blob_id
    row = ThreadPassage.objects.get(thread=thread)
    assert (row.version_id, row.state, row.block) == (v3.pk, "found", "p-3")


def test_a_thread_started_on_an_older_version_is_looked_for_in_the_latest_at_once(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    v2 = _next(team, django_capture_on_commit_callbacks, doc, V2)
    kept = _comment(team, doc, "agreed by all", number=1)
    amended = _comment(team, doc, "Charlie", number=1)
    assert ThreadPassage.objects.get(thread=kept).block == _where(v2, "agreed by all")["block"]
    assert ThreadPassage.objects.get(thread=amended, version=v2).state == "changed"


def test_a_resolved_thread_moves_but_has_no_marker(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    thread = _comment(team, doc, "agreed by all")
    comment_set_resolved(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        comment_id=thread.pk,
        resolved=True,
    )
    _next(team, django_capture_on_commit_callbacks, doc, V2)
    assert ThreadPassage.objects.get(thread=thread).state == "found"
    assert "data-anchor-for" not in _page(team.viewer, doc)


def test_suggestions_threads_are_left_to_suggestions(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from commonroom.suggestions.tests.factories import suggest

    doc = _first(team, django_capture_on_commit_callbacks, V1)
    suggestion = suggest(team.editor, _fresh(doc), "Charlie three.", text="Charlie 3.")
    thread = _comment(team, doc, "agreed by all")
    assert hooks.threads_followed_elsewhere([suggestion.comment_id, thread.pk]) == {
        suggestion.comment_id
    }
    _next(team, django_capture_on_commit_callbacks, doc, V2)
    assert not ThreadPassage.objects.filter(thread_id=suggestion.comment_id).exists()
    assert ThreadPassage.objects.get(thread=thread).state == "found"
    suggestion.refresh_from_db()
    assert suggestion.state == "outdated"  # suggestions' own rule, and nothing contradicts it
    assert "The passage changed" not in _page(team.viewer, doc)


# --- Who sees it -----------------------------------------------------------------------------


def test_the_moved_places_are_shown_to_members_only(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _first(team, django_capture_on_commit_callbacks, V1)
    kept, amended = _comment(team, doc, "agreed by all"), _comment(team, doc, "Charlie")
    v2 = _next(team, django_capture_on_commit_callbacks, doc, V2)
    block = _where(v2, "agreed by all")["block"]
    ws = doc.workspace_id
    api = f"/api/v1/workspaces/{ws}/documents/{doc.pk}/comments"
    urls = {
        "thread": reverse("comment_thread", args=[ws, doc.pk, kept.pk]),
        "preview": reverse("version_preview", args=[ws, doc.pk, 2]),
        "page": reverse("document_detail", args=[ws, doc.pk]),
        "api": api,
    }
    member = Client()
    member.force_login(team.viewer)
    assert f'href="#{block}"' in member.get(urls["thread"]).content.decode()
    assert f'data-anchor-for="{block}"' in member.get(urls["preview"]).content.decode()
    threads = {t["id"]: t for t in json.loads(member.get(api).content)["items"]}
    assert threads[str(kept.pk)]["passages"] == [
        {"version": 2, "state": "found", **_where(v2, "agreed by all")}
    ]
    assert threads[str(amended.pk)]["passages"] == [
        {"version": 2, "state": "changed", "block": "", "start": None, "end": None}
    ]
    outsider = Client()
    outsider.force_login(team.outsider)
    for name, url in urls.items():
        assert outsider.get(url).status_code == 404, name
