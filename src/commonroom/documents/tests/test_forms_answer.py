"""documents.forms_answer: a form on the document page (comments', suggestions') answered the
same way for all: the document's access first, a fragment for a script, a redirect with a
message for a plain form, a refusal as its sentence, and a forged id as not found."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.documents.forms_answer import document_form_answer, document_page_url
from commonroom.documents.selectors import DocumentAccess
from commonroom.documents.tests.factories import upload

pytestmark = pytest.mark.django_db


def request_for(user: Any, *, script: bool) -> Any:
    headers = {"HX-Request": "true"} if script else {}
    request = RequestFactory().post("/form", headers=headers)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def answer(request: Any, doc: Any, write: Any, *, document_id: Any = None) -> HttpResponse:
    return document_form_answer(
        request,
        doc.workspace_id,
        document_id or doc.pk,
        write,
        fragment=lambda doc_access, n: HttpResponse(f"<p>{n} for {doc_access.document.name}</p>"),
        done=lambda n: f"Done {n}.",
        anchor=lambda n: f"item-{n}",
        refused_anchor="items",
    )


def said(request: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(request)]


def test_what_was_written_is_a_fragment_for_a_script_and_a_redirect_for_a_form(team) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt").document
    seen: list[DocumentAccess] = []

    def write(doc_access: DocumentAccess) -> int:
        seen.append(doc_access)
        return 7

    got = answer(request_for(team.viewer, script=True), doc, write)
    assert (got.status_code, got.content) == (200, b"<p>7 for minutes.txt</p>")
    assert seen[0].document == doc and seen[0].access.role == "viewer"
    form = request_for(team.viewer, script=False)
    back = answer(form, doc, write)
    assert back.status_code == 302 and back["Location"] == document_page_url(seen[1], "item-7")
    assert said(form) == [("success", "Done 7.")]


def test_a_refusal_is_its_sentence_and_a_forged_id_is_not_found(team) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt").document

    def refuse(doc_access: DocumentAccess) -> int:
        raise ApplicationError("Not like that.", code="nope", status=409)

    got = answer(request_for(team.editor, script=True), doc, refuse)
    assert (got.status_code, got.content.decode()) == (409, "Not like that.")
    assert got["Content-Type"] == "text/plain; charset=utf-8"
    form = request_for(team.editor, script=False)
    back = answer(form, doc, refuse)
    assert back["Location"].endswith("#items") and said(form) == [("error", "Not like that.")]

    def forged(doc_access: DocumentAccess) -> int:
        raise NotFound()

    assert answer(request_for(team.editor, script=True), doc, forged).status_code == 404
    with pytest.raises(NotFound):  # a page: the not-found page, as everywhere
        answer(request_for(team.editor, script=False), doc, forged)
    called: list[DocumentAccess] = []
    with pytest.raises(NotFound):  # a non-member: read before anything is written
        answer(request_for(team.outsider, script=True), doc, called.append)
    assert called == []
