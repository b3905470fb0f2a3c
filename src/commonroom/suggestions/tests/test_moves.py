"""Suggestions follow new versions (receivers, documents' hook): one whose paragraph is unchanged
in the new file moves to it; one whose paragraph changed is outdated there ("the text it
changes was amended in version N"), audited, and can no longer be accepted. Never applied to
text it was not made on."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.audit.models import Action, AuditEvent
from commonroom.documents import services as documents
from commonroom.documents.tests.factories import a_file, new_version
from commonroom.office import wordedit
from commonroom.suggestions.models import State
from commonroom.suggestions.selectors import state_sentence
from commonroom.suggestions.tests.factories import (
    accept,
    access,
    docx_bytes,
    make_preview,
    suggest,
    version_bytes,
    with_preview,
)

pytestmark = pytest.mark.django_db

PARAGRAPHS = ("The board met on Tuesday.", "Apologies: none.", "Agreed.", "Agreed.")


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", docx_bytes(*PARAGRAPHS))


def test_an_unchanged_paragraph_carries_its_suggestion_to_the_new_version(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    added = new_version(team.editor, doc, docx_bytes("A new heading.", *PARAGRAPHS))
    suggestion.refresh_from_db()
    assert (suggestion.state, suggestion.applies_to, suggestion.version.number) == (
        State.OPEN,
        added,
        1,
    )
    assert not AuditEvent.objects.filter(action=Action.SUGGESTION_OUTDATED).exists()
    assert state_sentence(suggestion) == "Open, on version 2."


def test_a_changed_paragraph_outdates_its_suggestion(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    kept = suggest(team.commenter, doc, "none", "replace", "two members")
    added = new_version(team.editor, doc, docx_bytes("The board met on Monday.", *PARAGRAPHS[1:]))
    suggestion.refresh_from_db()
    kept.refresh_from_db()
    assert (suggestion.state, suggestion.outdated_in, suggestion.applies_to.number) == (
        State.OUTDATED,
        added,
        1,
    )
    assert state_sentence(suggestion) == (
        "Outdated — the text it changes was amended in version 2."
    )
    assert (kept.state, kept.applies_to) == (State.OPEN, added)
    event = AuditEvent.objects.get(action=Action.SUGGESTION_OUTDATED)
    assert event.target_id == str(suggestion.pk) and event.actor_id == team.editor.pk
    assert (event.data["version"], event.data["made_on"]) == (2, 1)
    # written before the version's own audit row, in the same transaction
    uploaded = AuditEvent.objects.get(action=Action.VERSION_UPLOADED, data__version=2)
    assert event.seq < uploaded.seq


def test_the_occurrence_counts_among_paragraphs_with_the_same_text(team, doc) -> None:
    second = suggest(team.commenter, doc, "Agreed", "replace", "Noted", nth=2)
    assert (second.paragraph, second.occurrence) == ("Agreed.", 2)
    new_version(team.editor, doc, docx_bytes(*PARAGRAPHS[:3]))  # one "Agreed." left
    second.refresh_from_db()
    assert second.state == State.OUTDATED


def test_an_accept_moves_the_other_suggestions_or_outdates_those_in_its_paragraphs(
    team, doc
) -> None:
    accepted = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    same_paragraph = suggest(team.commenter, doc, "The board", "replace", "The committee")
    elsewhere = suggest(team.commenter, doc, "none", "replace", "two members")
    version = accept(team.editor, doc, accepted)
    same_paragraph.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (same_paragraph.state, same_paragraph.outdated_in) == (State.OUTDATED, version)
    assert (elsewhere.state, elsewhere.applies_to) == (State.OPEN, version)
    final = accept(team.editor, doc, elsewhere)
    assert wordedit.paragraphs(version_bytes(final))[:2] == [
        "The board met on Wednesday.",
        "Apologies: two members.",
    ]


def test_a_restored_version_is_followed_like_any_other(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    make_preview(new_version(team.editor, doc, docx_bytes("Something else entirely.")))
    suggestion.refresh_from_db()
    assert suggestion.state == State.OUTDATED  # never comes back, even if the text does
    later = suggest(team.commenter, doc, "Something", "replace", "Anything", number=2)
    documents.version_restore(actor=team.editor, doc_access=access(team.editor, doc), number=1)
    later.refresh_from_db()
    suggestion.refresh_from_db()
    assert later.state == State.OUTDATED and getattr(later.outdated_in, "number", None) == 3
    assert (
        suggestion.state == State.OUTDATED and getattr(suggestion.outdated_in, "number", None) == 2
    )


def test_a_new_version_of_another_kind_of_file_outdates_them(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    documents.version_upload(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        uploaded=a_file("minutes.txt", "\n\n".join(PARAGRAPHS).encode()),
    )
    suggestion.refresh_from_db()
    assert suggestion.state == State.OUTDATED


def test_a_damaged_new_version_outdates_them_rather_than_fail_the_upload(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    version = new_version(team.editor, doc, b"PK\x03\x04 not really a zip")
    assert version.number == 2
    suggestion.refresh_from_db()
    assert suggestion.state == State.OUTDATED


@pytest.mark.parametrize(
    ("name", "first", "moved", "changed"),
    [
        ("notes.txt", b"Keep this.\n\nChange this.\n", b"New.\n\nKeep this.\n\nChange this.\n",
         b"Keep that.\n\nChange this.\n"),
        ("notes.md", b"# Keep\n\n- item one\n", b"Intro.\n\n# Keep\n\n- item one\n",
         b"# Kept\n\n- item one\n"),
    ],
)  # fmt: skip
def test_text_and_markdown_suggestions_follow_their_paragraph(
    team, name: str, first: bytes, moved: bytes, changed: bytes
) -> None:
    doc = with_preview(team.manager, team.workspace, name, first)
    suggestion = suggest(team.commenter, doc, "Keep", "insert_after", " it")
    new_version(team.editor, doc, moved)
    suggestion.refresh_from_db()
    assert (suggestion.state, suggestion.applies_to.number) == (State.OPEN, 2)
    new_version(team.editor, doc, changed)
    suggestion.refresh_from_db()
    assert (suggestion.state, getattr(suggestion.outdated_in, "number", None)) == (
        State.OUTDATED,
        3,
    )
