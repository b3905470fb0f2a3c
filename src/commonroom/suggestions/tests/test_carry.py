"""A stale copy's changes carried onto the latest as suggestions (services.stale_copy_carry):
versions 1, 2, 3; Tom uploads an edited copy of version 1 as version 4. Carrying restores
version 3 as version 5 and makes each change of the copy a suggestion on it, except those
whose paragraph versions 2 or 3 changed too: those are reported, never dropped."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.audit.models import Action, AuditEvent
from commonroom.comments.models import Comment
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.documents import services as documents
from commonroom.documents.tests.factories import new_version
from commonroom.office import wordedit
from commonroom.suggestions import carry, passages
from commonroom.suggestions.models import Kind, State, Suggestion
from commonroom.suggestions.services import stale_copy_carry
from commonroom.suggestions.tests.factories import (
    accept,
    access,
    docx_bytes,
    make_preview,
    version_bytes,
    with_preview,
)

pytestmark = pytest.mark.django_db

V1 = (
    "The board met on Tuesday.",
    "Apologies: none.",
    "The budget was agreed.",
    "Any other business: none.",
)
V2 = (V1[0], "Apologies: Sam.", *V1[2:])
V3 = (*V2[:3], "Any other business: the car park.")
# Tom's copy of version 1: one change carried, one crossed (version 2 changed "Apologies"), a
# new paragraph carried.
COPY = (
    "The board met on Wednesday.",
    "Apologies: Tom.",
    "The budget was agreed.",
    "Minutes taken by Tom.",
    "Any other business: none.",
)


def _text(*paragraphs: str) -> bytes:
    return "\n\n".join(paragraphs).encode() + b"\n"


def _history(team: Any, name: str, make: Any, copy: tuple[str, ...] = COPY) -> Any:
    doc = with_preview(team.manager, team.workspace, name, make(*V1))
    new_version(team.editor, doc, make(*V2))
    make_preview(new_version(team.manager, doc, make(*V3)))
    stale = new_version(team.editor, doc, make(*copy), based_on_number=1)
    assert not stale.based_on_latest
    doc.refresh_from_db()
    return doc


def _carry(user: Any, doc: Any, number: int = 4) -> Any:
    return stale_copy_carry(actor=user, doc_access=access(user, doc), number=number)


@pytest.mark.parametrize(
    ("name", "make"),
    [("minutes.docx", docx_bytes), ("minutes.txt", _text), ("minutes.md", _text)],
)
def test_the_copys_changes_become_suggestions_on_the_restored_latest(team, name, make) -> None:
    doc = _history(team, name, make)
    result = _carry(team.manager, doc)
    restored = result.restored
    assert (restored.number, restored.restored_from_number) == (5, 3)
    assert restored.note == (
        "Version 3 restored: version 4 was a copy of version 1, so Priya Shah carried its "
        "changes onto this version as suggestions."
    )
    made = sorted(result.suggestions, key=lambda s: s.created_at)
    assert [(s.kind, s.quote, s.new_text) for s in made] == [
        (Kind.REPLACE, "Tuesday.", "Wednesday."),
        (Kind.NEW_PARAGRAPH, "The budget was agreed.", "Minutes taken by Tom."),
    ]
    for suggestion in made:
        assert (suggestion.state, suggestion.applies_to, suggestion.author) == (
            State.OPEN,
            restored,
            team.editor,  # the words are Tom's
        )
        assert suggestion.reason == (
            f"Carried from version 4, {team.editor.display_name}'s copy of version 1, by "
            "Priya Shah."
        )
    # The crossed change is reported, in the result and in a comment on version 5.
    (crossed,) = result.not_carried
    assert (crossed.old, crossed.new) == ("Apologies: none.", "Apologies: Tom.")
    assert crossed.why == "The paragraph it changes was also changed in versions 2 and 3."
    assert result.report is not None and result.report.author == team.manager
    assert "“Apologies: none.” → “Apologies: Tom.”" in result.report.body
    # Accepting them all gives version 3's text with the copy's changes.
    latest = accept(team.manager, doc, *made)
    fmt = name.rsplit(".", 1)[1]
    assert passages.paragraphs(fmt, version_bytes(latest)) == [
        "The board met on Wednesday.",
        "Apologies: Sam.",
        "The budget was agreed.",
        "Minutes taken by Tom.",
        "Any other business: the car park.",
    ]


def test_the_audit_trail_names_who_pressed(team) -> None:
    doc = _history(team, "minutes.txt", _text)
    _carry(team.manager, doc)
    event = AuditEvent.objects.get(action=Action.SUGGESTIONS_CARRIED)
    assert event.actor_id == team.manager.pk
    assert event.data == {
        "version": 4,
        "based_on": 1,
        "restored": 3,
        "new_version": 5,
        "author": team.editor.email,
        "carried": 2,
        "not_carried": 1,
    }
    last = AuditEvent.objects.filter(workspace_id=team.workspace.pk).order_by("-seq").first()
    assert last == event
    created = AuditEvent.objects.filter(action=Action.SUGGESTION_CREATED)
    assert {e.actor_id for e in created} == {team.editor.pk}


def test_an_uploader_who_may_no_longer_comment_is_named_by_the_presser(team) -> None:
    doc = _history(team, "minutes.txt", _text)
    from commonroom.workspaces.models import Membership

    Membership.objects.filter(workspace=team.workspace, user=team.editor).update(role="viewer")
    result = _carry(team.manager, doc)
    assert {s.author for s in result.suggestions} == {team.manager}
    assert result.suggestions[0].reason.endswith(
        "'s change in version 4 (a copy of version 1), carried here by Priya Shah."
    )
    assert team.editor.display_name in result.suggestions[0].reason


def test_changes_within_a_paragraph_are_one_suggestion_of_whole_words(team) -> None:
    copy = (
        "The board met on Tuesday at noon.",  # words added at the end
        *V1[1:3],
        "Any business: none.",  # a word deleted: but v3 changed this one (crossed)
    )
    doc = _history(team, "minutes.txt", _text, copy)
    result = _carry(team.manager, doc)
    (added,) = result.suggestions
    assert (added.kind, added.quote, added.new_text) == (
        Kind.REPLACE,
        "Tuesday.",
        "Tuesday at noon.",
    )
    assert len(result.not_carried) == 1


def test_a_new_paragraph_after_one_the_versions_between_changed_goes_after_its_new_text(
    team,
) -> None:
    copy = (*V1[:2], "Sam sent apologies late.", *V1[2:])  # after "Apologies: none."
    doc = _history(team, "minutes.txt", _text, copy)
    result = _carry(team.manager, doc)
    (added,) = result.suggestions
    assert (added.kind, added.quote, added.new_text) == (
        Kind.NEW_PARAGRAPH,
        "Apologies: Sam.",  # version 2's text in its place
        "Sam sent apologies late.",
    )
    assert result.not_carried == []


def test_a_new_first_paragraph_is_reported_not_carried(team) -> None:
    from commonroom.suggestions.views import carried_sentence

    doc = _history(team, "minutes.txt", _text, ("Preface.", *V1))
    result = _carry(team.manager, doc)
    assert result.suggestions == []
    (first,) = result.not_carried
    assert (first.old, first.new) == ("", "Preface.")
    assert result.report is not None
    assert "- (a new paragraph) → “Preface.”: A new first paragraph" in result.report.body
    assert carried_sentence(result).startswith(
        "Version 5 has the text of version 3 again; no change of version 4 could be carried "
        "as a suggestion. This change was not carried: (a new paragraph) → “Preface.”"
    )


def test_the_places_of_new_paragraphs() -> None:
    assert carry.places_after(["a", "b", "c"], ["a", "B", "c"]) == {0: 0, 1: 1, 2: 2}
    assert carry.places_after(["a", "b", "c"], ["a", "c"]) == {0: 0, 1: 0, 2: 1}
    assert carry.places_after(["b", "c"], ["c"]) == {0: -1, 1: 0}
    assert carry.places_after(["a", "b"], ["a", "", "B", ""]) == {0: 0, 1: 2}


@pytest.mark.parametrize("name", ["minutes.txt", "minutes.md"])
def test_a_deleted_paragraph_is_a_suggestion_to_delete_it(team, name) -> None:
    doc = _history(team, name, _text, (*V1[:2], V1[3]))
    result = _carry(team.manager, doc)
    (deleted,) = result.suggestions
    assert (deleted.kind, deleted.quote) == (Kind.DELETE, "The budget was agreed.")
    assert result.not_carried == [] and result.report is None
    latest = accept(team.manager, doc, deleted)
    assert passages.paragraphs(name[-3:].lstrip("."), version_bytes(latest)) == [
        V3[0],
        V3[1],
        V3[3],
    ]


def test_nothing_is_written_when_refused(team) -> None:
    doc = _history(team, "minutes.txt", _text, V1)  # the copy changed nothing

    def refused(user: Any, number: int, code: str) -> None:
        before = (doc.versions.count(), Suggestion.objects.count(), Comment.objects.count())
        with pytest.raises(ApplicationError) as caught:
            _carry(user, doc, number)
        assert caught.value.code == code
        after = (doc.versions.count(), Suggestion.objects.count(), Comment.objects.count())
        assert after == before
        assert not AuditEvent.objects.filter(action=Action.SUGGESTIONS_CARRIED).exists()

    refused(team.manager, 4, "no_changes")
    refused(team.manager, 3, "not_latest")
    refused(team.manager, 99, "not_found")


def test_a_version_based_on_the_latest_has_nothing_to_carry(team) -> None:
    doc = with_preview(team.manager, team.workspace, "minutes.txt", _text(*V1))
    new_version(team.editor, doc, _text(*V2))
    with pytest.raises(ApplicationError) as caught:
        _carry(team.manager, doc, 2)
    assert caught.value.code == "not_stale"


def test_the_target_preview_must_be_ready(team) -> None:
    doc = with_preview(team.manager, team.workspace, "minutes.txt", _text(*V1))
    new_version(team.editor, doc, _text(*V2))  # no preview made
    new_version(team.editor, doc, _text(*COPY), based_on_number=1)
    with pytest.raises(ApplicationError) as caught:
        _carry(team.manager, doc, 3)
    assert caught.value.code == "preview_not_ready"
    assert "The preview of version 2 is not ready yet" in caught.value.message
    assert doc.versions.count() == 3


def test_a_kind_of_file_without_paragraphs_is_refused(team) -> None:
    doc = with_preview(team.manager, team.workspace, "minutes.txt", _text(*V1))
    new_version(team.editor, doc, _text(*V2))
    documents.version_upload(
        actor=team.editor,
        doc_access=access(team.editor, doc),
        uploaded=_upload("minutes.csv", b"a,b\n1,2\n", "text/csv"),
        based_on_number=1,
    )
    with pytest.raises(ApplicationError) as caught:
        _carry(team.manager, doc, 3)
    assert caught.value.code == "unsupported"


def _upload(name: str, content: bytes, ctype: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=ctype)


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_only_managers_and_editors_may_carry(team, role) -> None:
    doc = _history(team, "minutes.txt", _text)
    with pytest.raises(PermissionDenied):
        _carry(team.by_role[role], doc)
    assert doc.versions.count() == 4


def test_a_non_member_gets_404(team) -> None:
    doc = _history(team, "minutes.txt", _text)
    with pytest.raises(NotFound):
        _carry(team.outsider, doc)


def test_a_document_in_the_trash_is_not_found(team) -> None:
    doc = _history(team, "minutes.txt", _text)
    doc_access = access(team.manager, doc)
    documents.document_delete(actor=team.manager, doc_access=doc_access)
    with pytest.raises(NotFound):
        stale_copy_carry(actor=team.manager, doc_access=doc_access, number=4)
    assert Suggestion.objects.count() == 0


def test_word_spans() -> None:
    span = carry.word_span
    assert span("a b c", "a b c") is None
    assert span("The board met.", "The panel met.") == carry.Span(Kind.REPLACE, 4, 9, "panel")
    assert span("a b c", "a c") == carry.Span(Kind.DELETE, 2, 4, "")
    assert span("met on Tuesday", "met on a Tuesday") == carry.Span(Kind.INSERT_BEFORE, 7, 14, "a ")
    assert span("Agreed", "Agreed by all") == carry.Span(Kind.INSERT_AFTER, 0, 6, " by all")


def test_word_edit_paragraphs_are_found_in_the_preview(team) -> None:
    doc = with_preview(team.manager, team.workspace, "m.docx", docx_bytes("One.", "Two.", "One."))
    version = doc.versions.get()
    data = version_bytes(version)
    from commonroom.previews.blocks import blocks_in
    from commonroom.previews.models import Preview

    blocks = blocks_in(Preview.objects.get(blob_id=version.blob_id).html)
    assert wordedit.paragraphs(data)[2] == "One."
    found = passages.block_of("docx", data, blocks, 2)
    assert found.id == [b for b in blocks if b.text == "One."][1].id


# --- The page and the API ---------------------------------------------------------------------


def _client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _page(doc: Any) -> str:
    from django.urls import reverse

    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def _carry_url(doc: Any, number: int = 4) -> str:
    from django.urls import reverse

    return reverse("stale_copy_carry", args=[doc.workspace_id, doc.pk, number])


def test_the_page_offers_it_to_those_who_may_and_says_what_was_done(team) -> None:
    from django.contrib.messages import get_messages

    doc = _history(team, "minutes.txt", _text)
    offer = "Carry this copy's changes onto version 3 as suggestions"
    explained = "Version 4 was made from version 1, so it undoes what versions 2 and 3 changed."
    for role, offered in (("manager", True), ("editor", True), ("commenter", False)):
        html = _client(team.by_role[role]).get(_page(doc)).content.decode()
        assert (offer in html, explained in html) == (offered, offered), role

    response = _client(team.editor).post(_carry_url(doc))
    assert response.status_code == 302
    (said,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert said.startswith(
        "Version 5 has the text of version 3 again; 2 changes of version 4 are suggestions to "
        "accept or reject. This change was not carried: “Apologies: none.” → "
        "“Apologies: Tom.” (The paragraph it changes was also changed in versions 2 and 3)."
    )
    assert Suggestion.objects.filter(document=doc, applies_to__number=5).count() == 2
    # Version 4 is no longer the latest: no offer, and pressing again is refused.
    assert offer not in _client(team.editor).get(_page(doc)).content.decode()
    again = _client(team.editor).post(_carry_url(doc))
    (refusal,) = [str(m) for m in get_messages(again.wsgi_request)]
    assert refusal.startswith("Version 4 is no longer the latest (version 5 is)")
    assert doc.versions.count() == 5


def test_the_page_refuses_outsiders_commenters_and_the_signed_out(team) -> None:
    from django.contrib.messages import get_messages

    doc = _history(team, "minutes.txt", _text)
    assert _client(team.outsider).post(_carry_url(doc)).status_code == 404
    signed_out = _client(None).post(_carry_url(doc))
    assert signed_out.status_code == 302 and "/login/" in signed_out["Location"]
    commenter = _client(team.commenter).post(_carry_url(doc))
    (refusal,) = [str(m) for m in get_messages(commenter.wsgi_request)]
    assert refusal == (
        "Only the workspace's managers and editors can accept or reject suggestions."
    )
    assert _client(team.editor).get(_carry_url(doc)).status_code == 405
    assert doc.versions.count() == 4 and Suggestion.objects.count() == 0
