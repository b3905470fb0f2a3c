"""Suggesting: a comment thread carrying a change, made on one version's preview
(services.suggestion_create). Every refusal gives a sentence and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.audit.models import Action, AuditEvent
from commonroom.comments import services as comments
from commonroom.comments.models import Comment
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.documents import services as documents
from commonroom.documents.tests.factories import new_version, upload
from commonroom.office.package import OfficeFileError
from commonroom.office.tests.samples import docx_with, p, r
from commonroom.suggestions import services
from commonroom.suggestions.models import Kind, State, Suggestion
from commonroom.suggestions.tests.factories import (
    access,
    docx_bytes,
    make_preview,
    suggest,
    where,
    with_preview,
)
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

MINUTES = docx_bytes(
    ("The board met on ", "Tuesday", " and agreed the budget."),
    "Apologies were received from two members.",
    bold="Tuesday",
)


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", MINUTES)


def test_a_suggestion_is_a_thread_anchored_to_its_passage(team, doc) -> None:
    suggestion = suggest(
        team.commenter, doc, "Tuesday", "replace", "Wednesday", reason="It was @priya's diary"
    )
    assert (suggestion.kind, suggestion.state, suggestion.new_text) == (
        Kind.REPLACE,
        State.OPEN,
        "Wednesday",
    )
    assert suggestion.version.number == suggestion.applies_to.number == 1
    assert suggestion.quote == "Tuesday"
    assert suggestion.block_text == "The board met on Tuesday and agreed the budget."
    assert (suggestion.start, suggestion.end) == (17, 24)
    assert suggestion.paragraph == "The board met on Tuesday and agreed the budget."
    assert (suggestion.occurrence, suggestion.paragraph_start, suggestion.paragraph_end) == (
        1,
        17,
        24,
    )
    comment = suggestion.comment
    assert comment.thread_id is None and comment.author == team.commenter
    assert comment.version.number == 1
    assert comment.anchor_quote == "Tuesday"
    assert comment.anchor_position == {"block": "p-1", "start": 17, "end": 24}
    assert comment.body == "It was @priya's diary"  # the reason opens the thread
    assert list(comment.mentioned.all()) == [team.manager]  # a comment's mention
    event = AuditEvent.objects.get(action=Action.SUGGESTION_CREATED)
    assert event.target_id == str(suggestion.pk) and event.document_id == doc.pk
    assert event.data["version"] == 1 and event.data["kind"] == "replace"


def test_without_a_reason_the_thread_says_what_is_suggested(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Apologies", "delete")
    assert suggestion.comment.body == "Suggests deleting this passage."
    assert suggestion.new_text == ""


def test_replies_and_resolving_are_a_comments(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    reply = comments.comment_reply(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        comment_id=suggestion.comment_id,
        body="Checked: Wednesday.",
    )
    assert reply.thread_id == suggestion.comment_id
    comments.comment_set_resolved(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        comment_id=suggestion.comment_id,
        resolved=True,
    )
    suggestion.refresh_from_db()
    assert suggestion.comment.resolved_at is not None and suggestion.state == State.OPEN


def test_a_utf16_offset_after_an_emoji_is_the_right_character(team) -> None:
    doc = with_preview(team.manager, team.workspace, "notes.txt", "Mood 😀 is good\n".encode())
    place = where(doc, "is good")
    assert place["start"] == 8  # "Mood " + two code units + " "
    suggestion = services.suggestion_create(
        actor=team.commenter, doc_access=access(team.commenter, doc), kind="replace",
        text="was fine", **place,
    )  # fmt: skip
    assert (suggestion.start, suggestion.end, suggestion.quote) == (7, 14, "is good")


def test_a_whole_paragraph_chosen_by_keyboard(team, doc) -> None:
    text = "Apologies were received from two members."
    suggestion = services.suggestion_create(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        version_number=1,
        block_id="p-2",
        start=0,
        end=len(text),
        quote=text,
        kind="new_paragraph",
        text="No other business.",
    )
    assert (suggestion.start, suggestion.end, suggestion.quote) == (0, len(text), text)


def test_a_resend_with_the_same_client_key_returns_the_first(team, doc) -> None:
    first = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday", client_key="k-1")
    again = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday", client_key="k-1")
    assert again.pk == first.pk
    assert Suggestion.objects.count() == 1 and Comment.objects.count() == 1


# --- Refusals -----------------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    """Suggestions, comments and audit rows: a refusal adds none."""
    return Suggestion.objects.count(), Comment.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("kind", "text", "code"),
    [
        ("replace", "", "empty_text"),
        ("replace", "   \n ", "empty_text"),
        ("insert_after", "", "empty_text"),
        ("new_paragraph", "", "empty_text"),
        ("replace", "Tuesday", "unchanged"),
        ("replace", "bad\x07bell", "control_characters"),
        ("replace", "bad\x00nul", "control_characters"),
        ("replace", "x" * 100_000, "text_too_long"),
        ("shout", "x", "invalid_kind"),
    ],
)
def test_bad_text_is_refused(team, doc, kind: str, text: str, code: str) -> None:
    before = counts()
    with pytest.raises(ApplicationError) as refused:
        suggest(team.commenter, doc, "Tuesday", kind, text)
    assert refused.value.code == code and refused.value.message
    assert counts() == before


@pytest.mark.parametrize(
    "change",
    [
        {"block_id": "p-99"},
        {"block_id": "../p-1"},
        {"block_id": 7},
        {"quote": "Wednesday"},
        {"start": 17, "end": 2000},
        {"start": 24, "end": 17},
        {"start": 17, "end": 17},
        {"start": "17"},
        {"start": -1},
        {"version_number": 2},
    ],
)
def test_a_passage_that_is_not_in_that_version_is_refused(team, doc, change) -> None:
    place = where(doc, "Tuesday")
    place.update(change)
    before = counts()
    with pytest.raises(ApplicationError) as refused:
        services.suggestion_create(
            actor=team.commenter, doc_access=access(team.commenter, doc), kind="replace",
            text="Wednesday", **place,
        )  # fmt: skip
    assert refused.value.message
    assert counts() == before


def test_a_passage_of_blanks_is_refused(team) -> None:
    doc = with_preview(team.manager, team.workspace, "notes.txt", b"Gap    here\n")
    place = where(doc, "   ")
    before = counts()
    with pytest.raises(ApplicationError, match="words in it"):
        services.suggestion_create(
            actor=team.commenter, doc_access=access(team.commenter, doc), kind="delete", **place
        )
    assert counts() == before


def test_a_suggestion_on_an_archived_workspaces_document_is_refused(team, doc) -> None:
    place = where(doc, "Tuesday")
    doc_access = access(team.commenter, doc)
    workspaces.workspace_set_archived(
        actor=team.manager, access=access(team.manager, doc).access, archived=True
    )
    before = counts()
    with pytest.raises(PermissionDenied, match="archived"):
        services.suggestion_create(
            actor=team.commenter, doc_access=doc_access, kind="replace", text="Wednesday", **place
        )
    assert counts() == before


def test_a_suggestion_on_a_deleted_document_is_refused(team, doc) -> None:
    place = where(doc, "Tuesday")
    doc_access = access(team.commenter, doc)  # read before it went to the trash
    documents.document_delete(actor=team.editor, doc_access=access(team.editor, doc))
    before = counts()
    with pytest.raises(NotFound):
        services.suggestion_create(
            actor=team.commenter, doc_access=doc_access, kind="replace", text="Wednesday", **place
        )
    with pytest.raises(NotFound):
        access(team.commenter, doc)
    assert counts() == before


def test_a_kind_of_file_suggestions_cannot_change_is_refused(team) -> None:
    doc = upload_document(team.workspace, team.manager, name="costs.csv", content=b"a,b\n1,2\n")
    before = counts()
    with pytest.raises(ApplicationError, match="Word") as refused:
        services.suggestion_create(
            actor=team.commenter, doc_access=access(team.commenter, doc), version_number=1,
            block_id="p-1", start=0, end=1, kind="replace", text="x",
        )  # fmt: skip
    assert refused.value.code == "unsupported"
    assert counts() == before


def test_a_version_whose_preview_is_not_ready_is_refused(team) -> None:
    doc = upload(team.manager, team.workspace, "notes.txt", b"Pending text\n").document
    before = counts()
    with pytest.raises(Conflict, match="not ready"):
        services.suggestion_create(
            actor=team.commenter, doc_access=access(team.commenter, doc), version_number=1,
            block_id="p-1", start=0, end=7, kind="replace", text="Waiting",
        )  # fmt: skip
    assert counts() == before


def test_a_word_passage_the_engine_cannot_change_is_refused_with_its_sentence(team) -> None:
    field = docx_with(
        p(
            r("Printed on "),
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
            '<w:r><w:instrText xml:space="preserve"> DATE </w:instrText></w:r>',
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
            r("1 May"),
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
        )
    )
    doc = with_preview(team.manager, team.workspace, "printed.docx", field)
    before = counts()
    with pytest.raises(OfficeFileError, match="field"):
        suggest(team.commenter, doc, "1 May", "replace", "2 May")
    assert counts() == before


def test_a_passage_reaching_into_the_next_block_is_refused(team) -> None:
    doc = with_preview(team.manager, team.workspace, "list.md", b"- Parent item\n  - Child item\n")
    place = where(doc, "Parent item")
    place["end"] += 5  # into the child's text, which is in the parent's textContent
    place.pop("quote")
    before = counts()
    with pytest.raises(ApplicationError, match="one paragraph at a time"):
        services.suggestion_create(
            actor=team.commenter, doc_access=access(team.commenter, doc), kind="replace",
            text="x", **place,
        )  # fmt: skip
    assert counts() == before


# --- Made on an older version -------------------------------------------------------------------


def test_made_on_an_older_version_it_moves_to_the_latest_when_its_paragraph_is_there(
    team, doc
) -> None:
    new_version(team.editor, doc, docx_bytes(*_paragraphs(MINUTES), "A third paragraph."))
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday", number=1)
    assert suggestion.version.number == 1 and suggestion.applies_to.number == 2
    assert suggestion.state == State.OPEN


def test_made_on_an_older_version_whose_paragraph_changed_it_is_outdated_at_once(team, doc) -> None:
    new_version(team.editor, doc, docx_bytes("The board met on Monday.", "Apologies: none."))
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday", number=1)
    assert suggestion.state == State.OUTDATED
    assert suggestion.outdated_in is not None and suggestion.outdated_in.number == 2
    assert list(
        AuditEvent.objects.filter(target_id=str(suggestion.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [Action.SUGGESTION_CREATED, Action.SUGGESTION_OUTDATED]


def _paragraphs(data: bytes) -> list[str]:
    from commonroom.office import wordedit

    return wordedit.paragraphs(data)


def test_a_version_made_later_gets_its_own_preview_for_suggestions(team, doc) -> None:
    version = new_version(team.editor, doc, docx_bytes("Entirely new text."))
    make_preview(version)
    suggestion = suggest(team.commenter, doc, "Entirely", "replace", "Completely")
    assert suggestion.version.number == 2


def test_a_file_too_large_to_change_is_refused_before_it_is_read(team, monkeypatch) -> None:
    from commonroom.suggestions import passages

    doc = with_preview(team.manager, team.workspace, "notes.txt", b"A short text file.\n")
    monkeypatch.setattr(passages, "MAX_TEXT_BYTES", 10)
    before = counts()
    with pytest.raises(ApplicationError, match="text files of up to"):
        suggest(team.commenter, doc, "short", "replace", "long")
    assert counts() == before
