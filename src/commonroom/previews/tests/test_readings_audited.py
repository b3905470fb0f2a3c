"""A reading is audited once per person, version and ten minutes: a reader fetching a preview,
reloading a document's page or asking for a comparison again and again writes one row, not one
a fetch, while another person, another version or the same reading ten minutes later writes its
own. The decision is in the database (audit.services.audit_record_reading), so every server
process shares it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.services import token_create
from commonroom.audit.models import Action, AuditEvent, ReadingAudited
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import READING_WINDOW, readings_audited_prune
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.workspaces.tests.factories import upload_document


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def two_versions(team: Any, capture: Any, make_upload: Any) -> Any:
    with capture(execute=True):
        doc = upload_document(team.workspace, team.manager, name="a.txt", content=b"One")
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    with capture(execute=True):
        version_upload(actor=team.editor, doc_access=access, uploaded=make_upload("a.txt", b"Two"))
    return doc


def fragment(team: Any, doc: Any, number: int) -> str:
    return reverse("version_preview", args=[team.workspace.pk, doc.pk, number])


def rows(action: str, user: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, actor_id=user.pk).order_by("seq"))


def ten_minutes_pass() -> None:
    """Every reading audited so far was audited longer ago than the window."""
    ReadingAudited.objects.update(audited_at=timezone.now() - READING_WINDOW - timedelta(seconds=1))


@pytest.mark.django_db
def test_fifty_fetches_of_a_preview_write_one_row_per_person_and_version(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(team, django_capture_on_commit_callbacks, make_upload)
    viewer, editor = client_for(team.viewer), client_for(team.editor)
    for _ in range(50):
        response = viewer.get(fragment(team, doc, 2))
        assert response.status_code == 200 and 'data-preview-status="ready"' in response.text
    assert [e.data["version"] for e in rows(Action.PREVIEW_VIEWED, team.viewer)] == [2]

    editor.get(fragment(team, doc, 2))  # another person: their own row
    viewer.get(fragment(team, doc, 1))  # another version: its own row
    viewer.get(fragment(team, doc, 1))
    assert [e.data["version"] for e in rows(Action.PREVIEW_VIEWED, team.editor)] == [2]
    assert [e.data["version"] for e in rows(Action.PREVIEW_VIEWED, team.viewer)] == [2, 1]

    ten_minutes_pass()
    for _ in range(5):
        viewer.get(fragment(team, doc, 2))
    assert [e.data["version"] for e in rows(Action.PREVIEW_VIEWED, team.viewer)] == [2, 1, 2]
    assert audit_verify().ok


@pytest.mark.django_db
def test_reloading_a_document_s_page_writes_one_row_per_version_shown(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="a.txt", content=b"One")
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    viewer = client_for(team.viewer)
    for _ in range(20):
        assert viewer.get(page).status_code == 200
    assert [e.data for e in rows(Action.DOCUMENT_VIEWED, team.viewer)] == [{"version": 1}]

    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    with django_capture_on_commit_callbacks(execute=True):
        version_upload(actor=team.editor, doc_access=access, uploaded=make_upload("a.txt", b"2"))
    viewer.get(page)
    viewer.get(page)
    assert [e.data for e in rows(Action.DOCUMENT_VIEWED, team.viewer)] == [
        {"version": 1},
        {"version": 2},
    ]
    client_for(team.commenter).get(page)
    assert len(rows(Action.DOCUMENT_VIEWED, team.commenter)) == 1

    ten_minutes_pass()
    viewer.get(page)
    assert len(rows(Action.DOCUMENT_VIEWED, team.viewer)) == 3


@pytest.mark.django_db
def test_asking_the_api_for_a_comparison_again_writes_one_row(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(team, django_capture_on_commit_callbacks, make_upload)
    secret = token_create(actor=team.viewer, name="reader", scope="read").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    url = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/compare"
    for _ in range(10):
        assert api.get(url + "?a=1&b=2").json()["status"] == "ready"
    assert [e.data["compared"] for e in rows(Action.PREVIEW_VIEWED, team.viewer)] == [[1, 2]]
    api.get(url + "?a=2&b=2")  # another pair read: its own row
    assert len(rows(Action.PREVIEW_VIEWED, team.viewer)) == 2
    ten_minutes_pass()
    api.get(url + "?a=1&b=2")
    assert len(rows(Action.PREVIEW_VIEWED, team.viewer)) == 3


@pytest.mark.django_db
def test_readings_audited_long_ago_are_forgotten_and_audited_again(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(team, django_capture_on_commit_callbacks, make_upload)
    viewer = client_for(team.viewer)
    viewer.get(fragment(team, doc, 1))
    client_for(team.editor).get(fragment(team, doc, 1))
    ReadingAudited.objects.filter(actor_id=team.viewer.pk).update(
        audited_at=timezone.now() - READING_WINDOW - timedelta(minutes=1)
    )
    assert readings_audited_prune() == 1
    assert list(ReadingAudited.objects.values_list("actor_id", flat=True)) == [team.editor.pk]
    viewer.get(fragment(team, doc, 1))
    assert len(rows(Action.PREVIEW_VIEWED, team.viewer)) == 2
