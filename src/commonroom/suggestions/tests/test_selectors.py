"""Reading suggestions as a member sees them: with what they may do, their state in words, the
block that shows their passage on a later version, and what happened to them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commonroom.core.exceptions import NotFound
from commonroom.documents.tests.factories import new_version
from commonroom.suggestions import selectors, services
from commonroom.suggestions.models import State
from commonroom.suggestions.tests.factories import (
    accept,
    access,
    docx_bytes,
    make_preview,
    suggest,
    with_preview,
)

pytestmark = pytest.mark.django_db

TEXT = ("Agreed.", "The board met on Tuesday.", "Agreed.")


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", docx_bytes(*TEXT))


def test_the_documents_suggestions_with_what_the_reader_may_do(team, doc) -> None:
    first = suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    second = suggest(team.commenter, doc, "Agreed", "delete", nth=2)
    services.suggestion_reject(
        actor=team.editor, doc_access=access(team.editor, doc), suggestion_id=second.pk
    )
    for _ in range(3):
        suggest(team.commenter, doc, "board", "insert_before", "whole ")
    editor = access(team.editor, doc)
    with CaptureQueriesContext(connection) as queries:
        found = selectors.document_suggestions(doc_access=editor)
        states = [(s.pk, s.state, s.can["accept"], s.author.pk, s.applies_to.number) for s in found]
    assert len(queries.captured_queries) == 1  # however many there are
    assert states[:2] == [
        (first.pk, State.OPEN, True, team.commenter.pk, 1),
        (second.pk, State.REJECTED, False, team.commenter.pk, 1),
    ]
    as_commenter = selectors.document_suggestions(doc_access=access(team.commenter, doc))
    assert not any(s.can["accept"] or s.can["reject"] for s in as_commenter)
    only_open = selectors.document_suggestions(
        doc_access=access(team.viewer, doc), state=State.OPEN
    )
    assert second.pk not in {s.pk for s in only_open} and first.pk in {s.pk for s in only_open}
    by_thread = selectors.suggestions_by_thread(doc_access=access(team.viewer, doc))
    assert by_thread[first.comment_id].pk == first.pk


def test_a_suggestion_of_another_document_is_not_found(team, doc) -> None:
    other = with_preview(team.manager, team.workspace, "other.txt", b"Other.\n")
    elsewhere = suggest(team.commenter, other, "Other", "replace", "Else")
    with pytest.raises(NotFound):
        selectors.suggestion_get(doc_access=access(team.viewer, doc), suggestion_id=elsewhere.pk)
    with pytest.raises(NotFound):
        access(team.outsider, other)


def test_states_in_words(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    version = accept(team.editor, doc, suggestion)
    make_preview(version)
    found = selectors.suggestion_get(
        doc_access=access(team.viewer, doc), suggestion_id=suggestion.pk
    )
    assert selectors.state_sentence(found) == f"Accepted in version {version.number}."
    rejected = suggest(team.commenter, doc, "Agreed", "delete", number=2)
    services.suggestion_reject(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        suggestion_id=rejected.pk,
        reason="Keep it",
    )
    found = selectors.suggestion_get(doc_access=access(team.viewer, doc), suggestion_id=rejected.pk)
    assert selectors.state_sentence(found) == "Rejected: Keep it"


def test_the_block_showing_a_moved_suggestion_on_a_later_version(team, doc) -> None:
    suggestion = suggest(team.commenter, doc, "Agreed", "replace", "Noted", nth=2)
    assert suggestion.block_id == "p-3"
    later = new_version(team.editor, doc, docx_bytes("A new first paragraph.", *TEXT))
    reader = access(team.viewer, doc)
    assert (
        selectors.suggestion_block(doc_access=reader, suggestion=suggestion, version=later) is None
    )
    make_preview(later)
    suggestion.refresh_from_db()
    assert suggestion.applies_to == later
    assert selectors.suggestion_block(doc_access=reader, suggestion=suggestion, version=later) == (
        "p-4"
    )
    first = doc.versions.get(number=1)
    assert selectors.suggestion_block(doc_access=reader, suggestion=suggestion, version=first) == (
        "p-3"
    )


def test_the_page_places_many_moved_suggestions_reading_each_preview_once(
    team, doc, monkeypatch
) -> None:
    from commonroom.previews import hooks as previews
    from commonroom.suggestions import receivers

    made = [
        suggest(team.commenter, doc, "Agreed", "replace", "Noted"),
        suggest(team.commenter, doc, "Tuesday", "replace", "Monday"),
        suggest(team.commenter, doc, "Agreed", "delete", nth=2),
    ]
    later = new_version(team.editor, doc, docx_bytes("A new first paragraph.", *TEXT))
    make_preview(later)
    read: list[Any] = []
    real = selectors.preview_blocks

    def counted(**kwargs: Any) -> Any:
        read.append(kwargs["version"].pk)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "preview_blocks", counted)
    shown = previews.PreviewShown(doc_access=access(team.viewer, doc), version=later)
    redlines = receivers.preview_redlines(shown)
    assert sorted(redlines) == ["p-2", "p-3", "p-4"]  # each moved down one paragraph
    assert all(f'data-redline-for="{s.pk}"' in "".join(redlines.values()) for s in made)
    assert sorted(read) == sorted([doc.versions.get(number=1).pk, later.pk])  # once each


def test_what_happened_to_the_suggestions_newest_first(team, doc) -> None:
    kept = suggest(team.commenter, doc, "Tuesday", "replace", "Monday")
    gone = suggest(team.commenter, doc, "board", "replace", "committee")
    accept(team.editor, doc, kept)  # the same paragraph: ``gone`` is outdated by it
    events = selectors.suggestion_events(doc_access=access(team.viewer, doc))
    assert [(e.what, e.suggestion.pk) for e in events][:2] in (
        [("accepted", kept.pk), ("outdated", gone.pk)],
        [("outdated", gone.pk), ("accepted", kept.pk)],
    )
    assert {(e.what, e.suggestion.pk) for e in events} == {
        ("suggested", kept.pk),
        ("suggested", gone.pk),
        ("accepted", kept.pk),
        ("outdated", gone.pk),
    }
    accepted = next(e for e in events if e.what == "accepted")
    assert accepted.who == team.editor
