"""Final records on the pages and in the API: marked where documents and versions are shown,
refused with the seal's sentence (409 ``sealed`` in the API), reopened by managers only, and
the retention setting and its refusals."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.audit.models import AuditEvent
from commonroom.documents import services
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.documents.tests.support import multipart
from commonroom.workspaces.models import Workspace


@pytest.fixture
def sealed(team: Any) -> Document:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    new_version(team.editor, doc, b"agreed")
    with transaction.atomic():
        doc = Document.objects.get(pk=doc.pk)
        services.version_seal(
            actor=team.commenter, document=doc, version=doc.versions.get(number=2)
        )
    return Document.objects.select_related("sealed_version").get(pk=doc.pk)


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user: Any) -> Client:
    secret = token_create(actor=user, name="script", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def doc_url(doc: Document) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def api(doc: Document, tail: str = "") -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}{tail}"


def shown(response: Any) -> str:
    return html.unescape(response.content.decode())


# --- Pages ---------------------------------------------------------------------------------------


def test_the_page_shows_the_record_and_offers_managers_to_reopen(
    team: Any, sealed: Document
) -> None:
    record = sealed.versions.get(number=2)
    page = shown(page_client(team.manager).get(doc_url(sealed)))
    assert "Final record" in page
    assert "Version 2 is this document's final record" in page
    assert record.blob_id in page
    assert 'name="action" value="reopen"' in page
    assert 'name="reason"' in page
    # Nothing that would replace it is offered.
    assert "Upload a new version" not in page
    for action in ("restore_version", "rename", "move", "delete"):
        assert f'name="action" value="{action}"' not in page


def test_editors_see_the_record_without_reopen(team: Any, sealed: Document) -> None:
    page = shown(page_client(team.editor).get(doc_url(sealed)))
    assert "Version 2 is this document's final record" in page
    assert "A manager can reopen it" in page
    assert 'value="reopen"' not in page
    assert "Upload a new version" not in page


def test_the_workspace_list_and_the_heading_part_mark_the_sealed_document(
    team: Any, sealed: Document
) -> None:
    other = upload(team.editor, team.workspace, "agenda.txt", b"agenda").document
    listing = shown(page_client(team.viewer).get(f"/w/{team.workspace.pk}/"))
    assert listing.count("Final record") == 1
    row = listing[listing.index(sealed.name) : listing.index("Final record") + 20]
    assert other.name not in row
    part = shown(page_client(team.viewer).get(f"/w/{team.workspace.pk}/d/{sealed.pk}/heading/"))
    assert 'id="cr-record"' in part and "Version 2 is this document's final record" in part


def test_a_page_upload_to_a_sealed_document_is_refused_with_the_sentence(
    team: Any, sealed: Document
) -> None:
    client = page_client(team.editor)
    body, ctype = multipart([], [("file", "minutes.txt", b"third", "text/plain")])
    response = client.post(
        reverse("version_upload", args=[team.workspace.pk, sealed.pk]),
        body,
        content_type=ctype,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "sealed"
    assert "“minutes.txt” is sealed: version 2 is its final record" in response.json()["detail"]
    page = client.post(
        reverse("document_action", args=[team.workspace.pk, sealed.pk]),
        {"action": "rename", "name": "Other.txt"},
        follow=True,
    )
    assert "“minutes.txt” is sealed: version 2 is its final record" in shown(page)
    assert Document.objects.get(pk=sealed.pk).name == "minutes.txt"
    assert Document.objects.get(pk=sealed.pk).current_version_number == 2


def test_a_manager_reopens_from_the_page(team: Any, sealed: Document) -> None:
    client = page_client(team.manager)
    page = client.post(
        reverse("document_action", args=[team.workspace.pk, sealed.pk]),
        {"action": "reopen", "reason": "Item 4 had a typo."},
        follow=True,
    )
    assert "Document reopened" in shown(page)
    assert Document.objects.get(pk=sealed.pk).sealed_version_id is None
    assert AuditEvent.objects.get(action="document.reopened").data["reason"] == (
        "Item 4 had a typo."
    )
    # The version list still marks the record.
    assert "Final record (reopened since)" in shown(page)


def test_reopening_from_the_page_is_refused_to_editors_and_not_found_by_others(
    team: Any, sealed: Document
) -> None:
    url = reverse("document_action", args=[team.workspace.pk, sealed.pk])
    page = page_client(team.editor).post(url, {"action": "reopen", "reason": "x"}, follow=True)
    assert "Only the workspace's managers can reopen a sealed document." in shown(page)
    outsider = page_client(team.outsider).post(url, {"action": "reopen", "reason": "x"})
    assert outsider.status_code == 404
    empty = page_client(team.manager).post(url, {"action": "reopen", "reason": ""}, follow=True)
    assert "Say why the document is reopened." in shown(empty)
    assert Document.objects.get(pk=sealed.pk).sealed_version_id is not None


def test_managers_set_the_retention_on_the_settings_page(team: Any) -> None:
    url = reverse("workspace_settings", args=[team.workspace.pk])
    client = page_client(team.manager)
    assert 'name="record_retention_years"' in shown(client.get(url))
    form = {"action": "save", "name": team.workspace.name, "description": ""}
    client.post(url, {**form, "record_retention_years": "12"})
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 12
    page = client.post(url, {**form, "record_retention_years": "500"}, follow=True)
    assert "whole number of years from 0 to 100" in shown(page)
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 12


def test_a_trash_purge_under_retention_is_refused_on_the_page_and_audited(
    team: Any, sealed: Document
) -> None:
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, sealed), reason="Redo"
    )
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, sealed))
    page = page_client(team.manager).post(
        reverse("trash_action", args=[team.workspace.pk, "document", sealed.pk]),
        {"action": "purge"},
        follow=True,
    )
    assert "is a final record, kept until" in shown(page)
    assert Document.objects.filter(pk=sealed.pk).exists()
    assert AuditEvent.objects.filter(action="record.purge_refused").count() == 1


# --- API -----------------------------------------------------------------------------------------


def test_the_api_says_which_version_is_the_record(team: Any, sealed: Document) -> None:
    client = api_client(team.viewer)
    doc = client.get(api(sealed)).json()
    assert doc["sealed_version"] == 2
    assert doc["abilities"]["upload_version"] is False and doc["abilities"]["reopen"] is False
    assert doc["latest"]["record_at"] is not None
    versions = {
        v["number"]: v["record_at"] for v in client.get(api(sealed, "/versions")).json()["items"]
    }
    assert versions[1] is None and versions[2] is not None
    listed = client.get(f"/api/v1/workspaces/{team.workspace.pk}/documents").json()["items"]
    assert [(d["name"], d["sealed_version"]) for d in listed] == [("minutes.txt", 2)]


def test_the_api_refuses_changes_to_a_sealed_document_with_409_sealed(
    team: Any, sealed: Document
) -> None:
    client = api_client(team.editor)
    body, ctype = multipart([], [("file", "minutes.txt", b"third", "text/plain")])
    answers = [
        client.post(api(sealed, "/versions"), body, content_type=ctype),
        client.post(api(sealed, "/versions/1/restore")),
        client.patch(api(sealed), {"name": "Other.txt"}, content_type="application/json"),
        client.delete(api(sealed)),
    ]
    for answer in answers:
        assert answer.status_code == 409, answer.content
        assert answer.json()["code"] == "sealed"
        assert "is sealed: version 2 is its final record" in answer.json()["detail"]
    doc = Document.objects.get(pk=sealed.pk)
    assert (doc.name, doc.current_version_number, doc.deleted_at) == ("minutes.txt", 2, None)


def test_reopen_through_the_api(team: Any, sealed: Document) -> None:
    url = api(sealed, "/reopen")
    assert api_client(team.outsider).post(url, {"reason": "x"}, "application/json").status_code == (
        404
    )
    refused = api_client(team.editor).post(url, {"reason": "x"}, "application/json")
    assert refused.status_code == 403
    empty = api_client(team.manager).post(url, {"reason": " "}, "application/json")
    assert (empty.status_code, empty.json()["code"]) == (400, "reason_required")
    done = api_client(team.manager).post(url, {"reason": "Typo"}, "application/json")
    assert done.status_code == 200
    assert done.json()["sealed_version"] is None
    assert done.json()["latest"]["record_at"] is not None
    again = api_client(team.manager).post(url, {"reason": "Typo"}, "application/json")
    assert (again.status_code, again.json()["code"]) == (409, "not_sealed")


def test_retention_through_the_api(team: Any, sealed: Document) -> None:
    ws = f"/api/v1/workspaces/{team.workspace.pk}"
    manager = api_client(team.manager)
    assert manager.get(ws).json()["record_retention_years"] == 8
    changed = manager.patch(ws, {"record_retention_years": 3}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["record_retention_years"] == 3
    too_long = manager.patch(ws, {"record_retention_years": 101}, content_type="application/json")
    assert too_long.status_code == 422
    editor = api_client(team.editor)
    refused = editor.patch(ws, {"record_retention_years": 0}, content_type="application/json")
    assert refused.status_code == 403
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 3

    manager.post(api(sealed, "/reopen"), {"reason": "Redo"}, "application/json")
    assert manager.delete(api(sealed)).status_code == 204
    purge = manager.delete(f"{ws}/trash/documents/{sealed.pk}")
    assert (purge.status_code, purge.json()["code"]) == (409, "under_retention")
    assert Document.objects.filter(pk=sealed.pk).exists()
    assert AuditEvent.objects.filter(action="record.purge_refused").count() == 1
