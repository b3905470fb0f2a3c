"""The document page's "Download with suggestions as tracked changes": the link (Word
documents only), the download as an attachment, what was left out said on the page, and what
each person gets (anonymous: the sign-in page; a non-member and a forged version: 404; another
kind of file: back to the page with a sentence)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from commonroom.suggestions.tests.factories import docx_bytes, suggest, with_preview

pytestmark = pytest.mark.django_db

LINK = "Download with suggestions as tracked changes"
NOT_WORD = (
    "Version 1 is not a Word (.docx) file: tracked changes are made, downloaded and accepted in "
    "Word files only."
)


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(
        team.manager,
        team.workspace,
        "minutes.docx",
        docx_bytes("The board met on Tuesday.", "Apologies from Ann."),
    )


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page(doc: Any) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def tracked(doc: Any, number: int = 1) -> str:
    return reverse("suggestions_tracked_download", args=[doc.workspace_id, doc.pk, number])


def test_the_page_offers_it_for_a_word_document_and_sends_the_file(team, doc) -> None:
    suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    viewer = client_for(team.viewer)
    shown = viewer.get(page(doc)).content.decode()
    assert LINK in shown and tracked(doc) in shown
    got = viewer.get(tracked(doc))
    assert got.status_code == 200
    assert got["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        got["Content-Disposition"]
        == 'attachment; filename="minutes (version 1, with suggestions).docx"'
    )
    assert got["X-Content-Type-Options"] == "nosniff"
    assert got["Content-Security-Policy"] == "sandbox"
    assert got["Cross-Origin-Resource-Policy"] == "same-origin"
    assert got.content.startswith(b"PK")
    assert not list(get_messages(got.wsgi_request))  # nothing was left out


def test_what_was_left_out_is_said_on_the_page(team, doc) -> None:
    suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    suggest(team.editor, doc, "on Tuesday", "replace", "on Friday")  # the same word: left out
    editor = client_for(team.editor)
    got = editor.get(tracked(doc))
    assert got.status_code == 200 and got["Commonroom-Suggestions-Left-Out"] == "1"
    back = editor.get(page(doc)).content.decode()
    assert "1 suggestion could not be placed in version 1" in back


def test_not_for_other_kinds_of_file_or_people_outside(team, doc) -> None:
    notes = with_preview(team.manager, team.workspace, "notes.txt", b"The board met.\n")
    editor = client_for(team.editor)
    assert LINK not in editor.get(page(notes)).content.decode()
    refused = editor.get(tracked(notes))
    assert refused.status_code == 302 and refused["Location"].startswith(page(notes))
    assert NOT_WORD in editor.get(refused["Location"]).content.decode()
    assert editor.get(tracked(doc, 9)).status_code == 404
    assert client_for(team.outsider).get(tracked(doc)).status_code == 404
    anonymous = client_for(None).get(tracked(doc))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("account_login"))


def test_a_version_not_in_word_is_refused_alike_by_the_download_and_the_accept(team) -> None:
    """The same status, code and sentence from both ways of asking for tracked changes."""
    notes = with_preview(team.manager, team.workspace, "notes.txt", b"The board met.\n")
    editor = client_for(team.editor)
    accept = reverse("tracked_changes_accept", args=[notes.workspace_id, notes.pk])
    answered = editor.post(accept, {"version": "1"}, HTTP_HX_REQUEST="true")
    assert (answered.status_code, answered.content.decode()) == (409, NOT_WORD)
    for ask in (lambda: editor.post(accept, {"version": "1"}), lambda: editor.get(tracked(notes))):
        back = ask()
        assert back.status_code == 302 and back["Location"].startswith(page(notes))
        assert NOT_WORD in editor.get(back["Location"]).content.decode()
    assert notes.versions.count() == 1


def test_not_offered_and_refused_to_a_guest_viewer_by_default(team, doc) -> None:
    """The workspace's default download setting: an external guest who is a viewer reads the
    document but is not offered the Word file, and is refused it with a sentence (403)."""
    team.viewer.kind = "guest"
    team.viewer.save(update_fields=["kind"])
    suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    viewer = client_for(team.viewer)
    shown = viewer.get(page(doc))
    assert shown.status_code == 200
    assert LINK not in shown.content.decode() and tracked(doc) not in shown.content.decode()
    got = viewer.get(tracked(doc))
    assert got.status_code == 403
    assert "external guests who are viewers cannot download" in got.content.decode()
    assert LINK in client_for(team.commenter).get(page(doc)).content.decode()
