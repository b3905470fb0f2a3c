"""Accepting (one new version, through the upload path) and rejecting suggestions
(services.suggestions_accept, services.suggestion_reject)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from lxml import etree

from commonroom.accounts.tests.factories import GuestFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.comments import hooks as comment_hooks
from commonroom.comments import services as comments
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.documents import hooks
from commonroom.documents.stamping import PROPERTY, Stamp
from commonroom.documents.tests.factories import new_version
from commonroom.live.models import Event
from commonroom.office import properties, wordedit
from commonroom.office.package import OfficeFileError
from commonroom.suggestions import services
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.passages import PassageError
from commonroom.suggestions.tests.factories import (
    accept,
    access,
    children_started,
    docx_bytes,
    make_preview,
    suggest,
    version_bytes,
    with_preview,
)
from commonroom.workspaces.tests.factories import add_member

pytestmark = pytest.mark.django_db

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MINUTES = docx_bytes(
    ("The board met on ", "Tuesday", " and agreed the budget."),
    "Apologies were received from two members.",
    "Any other business: none.",
    bold="Tuesday",
)


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", MINUTES)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_accepting_in_a_word_file_keeps_bold_and_changes_only_its_document_part(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "agreed the budget", "replace", "approved the plan")
    version = accept(team.editor, doc, suggestion)
    before, after = members(MINUTES), members(version_bytes(version))
    assert list(after) == list(before)  # the same parts, in the same order
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["word/document.xml"]
    assert wordedit.paragraphs(version_bytes(version)) == [
        "The board met on Tuesday and approved the plan.",
        "Apologies were received from two members.",
        "Any other business: none.",
    ]
    runs = etree.fromstring(after["word/document.xml"]).iter(f"{W}r")
    bold = [
        "".join(t.text or "" for t in run.iter(f"{W}t"))
        for run in runs
        if run.find(f"{W}rPr/{W}b") is not None
    ]
    assert bold == ["Tuesday"]


def test_accepting_a_set_makes_one_version_noting_each_and_whose(team, doc) -> None:
    guest = add_member(team.workspace, GuestFactory(full_name="Aisha Khan"), "commenter")
    first = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    second = suggest(guest, doc, "Apologies were received from two members.", "delete")
    third = suggest(team.commenter, doc, "none", "replace", "the date of the next meeting")
    seen: list[hooks.VersionAdded] = []
    with hooks.subscribed(hooks.VersionAdded, seen.append):
        version = accept(team.manager, doc, first, second, third)
    assert doc.versions.count() == 2 and version.number == 2
    assert (version.based_on_number, version.based_on_latest) == (1, True)
    assert version.author == team.manager
    assert [c.version.pk for c in seen] == [version.pk]  # the document hook fired, once
    commenter = team.commenter.display_name
    assert version.note == (
        f"Accepted 3 suggestions: {commenter}: replace “Tuesday”; Aisha Khan: delete "
        f"“Apologies were received from two members.”; {commenter}: replace “none”."
    )
    assert wordedit.paragraphs(version_bytes(version)) == [
        "The board met on Wednesday and agreed the budget.",
        "",
        "Any other business: the date of the next meeting.",
    ]
    for suggestion in (first, second, third):
        suggestion.refresh_from_db()
        assert suggestion.state == State.ACCEPTED
        assert suggestion.accepted_in == version and suggestion.decided_by == team.manager
    accepted = AuditEvent.objects.filter(action=Action.SUGGESTION_ACCEPTED)
    assert sorted(e.target_id for e in accepted) == sorted(
        str(s.pk) for s in (first, second, third)
    )
    assert {e.data["version"] for e in accepted} == {2}
    uploaded = AuditEvent.objects.get(action=Action.VERSION_UPLOADED)
    assert uploaded.data["version"] == 2
    live = Event.objects.filter(kind="version.created").order_by("-id").first()
    assert live is not None and live.data["number"] == 2


def test_a_long_list_of_accepted_suggestions_fits_a_note(team, doc) -> None:
    chosen = [
        suggest(team.commenter, doc, word, "insert_after", "!")
        for word in ("board", "met", "Tuesday", "agreed", "budget", "Apologies", "received")
    ]
    version = accept(team.editor, doc, *chosen)
    assert len(version.note) <= 500
    assert version.note.startswith("Accepted 7 suggestions: ")
    assert version.note.count(team.commenter.display_name) >= 1


@pytest.mark.parametrize(
    ("name", "content", "quote", "text", "expected"),
    [
        ("notes.txt", b"We met on Tuesday.\r\n\r\nNext.\r\n", "Tuesday", "Monday",
         b"We met on Monday.\r\n\r\nNext.\r\n"),
        ("notes.md", b"# Minutes\n\nWe met on **Tuesday** at noon.\n", "Tuesday at", "Monday at",
         b"# Minutes\n\nWe met on Monday at noon.\n"),
    ],
)  # fmt: skip
def test_accepting_in_a_text_or_markdown_file_changes_its_source(
    team, name: str, content: bytes, quote: str, text: str, expected: bytes
) -> None:
    doc = with_preview(team.manager, team.workspace, name, content)
    version = accept(team.editor, doc, suggest(team.commenter, doc, quote, "replace", text))
    assert version_bytes(version) == expected
    assert version.filename == name


def test_a_rejection_resolves_the_thread_which_can_be_reopened_to_go_on(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    resolved: list[Any] = []
    with comment_hooks.subscribed(comment_hooks.CommentResolved, resolved.append):
        services.suggestion_reject(
            actor=team.editor,
            doc_access=access(team.editor, doc),
            suggestion_id=suggestion.pk,
            reason="The diary says Tuesday.",
        )
    suggestion.refresh_from_db()
    assert suggestion.state == State.REJECTED
    assert suggestion.decision_reason == "The diary says Tuesday."
    assert suggestion.decided_by == team.editor and suggestion.decided_at is not None
    comment = suggestion.comment
    assert not comment.is_deleted
    # Resolved through comments' own service: by the decider, told to followers, audited, live.
    assert comment.resolved_at is not None and comment.resolved_by == team.editor
    assert [(c.comment.pk, c.resolved, c.actor) for c in resolved] == [
        (comment.pk, True, team.editor)
    ]
    audited = AuditEvent.objects.get(action=Action.COMMENT_RESOLVED)
    assert (audited.target_id, audited.actor_id) == (str(comment.pk), team.editor.pk)
    live = Event.objects.filter(kind="comment.updated").order_by("-id").first()
    assert live is not None and live.data["thread"] == str(comment.pk)
    assert doc.versions.count() == 1
    event = AuditEvent.objects.get(action=Action.SUGGESTION_REJECTED)
    assert event.data["reason"] == "The diary says Tuesday."
    comments.comment_set_resolved(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        comment_id=comment.pk,
        resolved=False,
    )
    reply = comments.comment_reply(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        comment_id=comment.pk,
        body="Fair enough.",
    )
    assert reply.thread_id == comment.pk  # the thread goes on
    suggestion.refresh_from_db()
    assert suggestion.state == State.REJECTED  # reopening the talk decides nothing again


def test_accepting_resolves_each_thread_once_leaving_one_already_resolved_as_it_was(
    team, doc
) -> None:
    first = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    second = suggest(team.commenter, doc, "none", "replace", "nothing")
    comments.comment_set_resolved(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        comment_id=second.comment_id,
        resolved=True,
    )
    version = accept(team.manager, doc, first, second)
    first.comment.refresh_from_db()
    second.comment.refresh_from_db()
    assert first.comment.resolved_by == team.manager and first.comment.resolved_at is not None
    assert second.comment.resolved_by == team.commenter  # resolved before: left as it was
    resolves = AuditEvent.objects.filter(action=Action.COMMENT_RESOLVED).order_by("seq")
    assert [(e.target_id, e.actor_id) for e in resolves] == [
        (str(second.comment_id), team.commenter.pk),
        (str(first.comment_id), team.manager.pk),
    ]
    assert version.number == 2


def test_a_refused_decision_resolves_nothing(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    new_version(team.editor, doc, docx_bytes("Other text entirely."))  # outdates it
    with pytest.raises(Conflict):
        accept(team.manager, doc, suggestion)
    with pytest.raises(Conflict):
        services.suggestion_reject(
            actor=team.manager, doc_access=access(team.manager, doc), suggestion_id=suggestion.pk
        )
    suggestion.comment.refresh_from_db()
    assert suggestion.comment.resolved_at is None
    assert not AuditEvent.objects.filter(action=Action.COMMENT_RESOLVED).exists()


def test_an_outdated_suggestion_cannot_be_accepted(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    new_version(team.editor, doc, docx_bytes("The board met on Monday."))
    with pytest.raises(Conflict, match="outdated — the text it changes was amended in version 2"):
        accept(team.editor, doc, suggestion)
    assert doc.versions.count() == 2


def test_a_set_with_one_that_cannot_be_accepted_changes_nothing(team, doc) -> None:
    good = suggest(team.commenter, doc, "Apologies", "replace", "Regrets")
    first = suggest(team.commenter, doc, "met on Tuesday", "replace", "gathered on Monday")
    overlapping = suggest(team.editor, doc, "Tuesday and", "replace", "Monday, and")
    audit = AuditEvent.objects.count()
    with pytest.raises((OfficeFileError, PassageError), match="same words"):
        accept(team.manager, doc, good, first, overlapping)
    assert doc.versions.count() == 1 and AuditEvent.objects.count() == audit
    assert set(Suggestion.objects.values_list("state", flat=True)) == {State.OPEN}


def test_a_withdrawn_suggestion_cannot_be_accepted(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    comments.comment_delete(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        comment_id=suggestion.comment_id,
    )
    with pytest.raises(Conflict, match="withdrawn"):
        accept(team.editor, doc, suggestion)


def test_choosing_nothing_or_something_else_is_refused(team, doc) -> None:
    with pytest.raises(ApplicationError, match="at least one"):
        services.suggestions_accept(
            actor=team.editor, doc_access=access(team.editor, doc), suggestion_ids=[]
        )
    other = with_preview(team.manager, team.workspace, "other.txt", b"Other text.\n")
    elsewhere = suggest(team.commenter, other, "Other", "replace", "Another")
    for ids in (["not-an-id"], [elsewhere.pk]):
        with pytest.raises(NotFound):
            services.suggestions_accept(
                actor=team.editor, doc_access=access(team.editor, doc), suggestion_ids=ids
            )
    assert doc.versions.count() == 1


def test_an_accept_builds_on_the_version_it_was_moved_to(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Apologies", "replace", "Regrets")
    added = new_version(team.editor, doc, docx_bytes("A new first paragraph.", *_texts(MINUTES)))
    suggestion.refresh_from_db()
    assert suggestion.applies_to == added
    version = accept(team.editor, doc, suggestion)
    assert (version.number, version.based_on_number, version.based_on_latest) == (3, 2, True)
    assert wordedit.paragraphs(version_bytes(version))[0] == "A new first paragraph."
    assert "Regrets were received from two members." in wordedit.paragraphs(version_bytes(version))


def _texts(data: bytes) -> list[str]:
    return wordedit.paragraphs(data)


def test_a_file_stamped_with_an_older_version_is_based_on_the_version_it_was_amended_from(
    team, doc, monkeypatch
) -> None:
    """Version 2 was uploaded from a download of version 1 (its stamp says so); accepting on
    version 2 makes a file based on version 2, not on what version 2's stamp said. The stamp
    is the one the accept wrote: no confined child reads it back, or makes version 2's stamped
    copy to compare it with."""
    first = doc.versions.get(number=1)
    stamped = properties.with_property(
        docx_bytes("The board met on Monday."), PROPERTY, Stamp.of(first).value
    )
    second = new_version(team.editor, doc, stamped)
    assert (second.based_on_number, second.based_on_from_file) == (1, True)
    make_preview(second)
    suggestion = suggest(team.commenter, doc, "Monday", "replace", "Friday")
    started = children_started(monkeypatch)
    version = accept(team.editor, doc, suggestion)
    assert started == []
    assert (version.based_on_number, version.based_on_latest) == (2, True)
    assert version.based_on_from_file
    assert properties.read_property(version_bytes(version), PROPERTY) == Stamp.of(second).value


def test_a_word_file_the_engine_will_not_write_changes_nothing(team, doc, monkeypatch) -> None:
    """The engine reads back what it wrote and refuses when the XML does not say what it must
    (decision 14); an accept that meets that refusal adds no version and decides nothing."""
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OfficeFileError(wordedit.DAMAGE)

    monkeypatch.setattr(wordedit, "_verify", refuse)
    audit = AuditEvent.objects.count()
    with pytest.raises(OfficeFileError, match="without damaging the file"):
        accept(team.editor, doc, suggestion)
    suggestion.refresh_from_db()
    assert suggestion.state == State.OPEN and suggestion.decided_by is None
    assert doc.versions.count() == 1 and AuditEvent.objects.count() == audit
