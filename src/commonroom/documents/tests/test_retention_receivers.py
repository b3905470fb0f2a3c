"""A final record under retention is deleted by nobody, whatever the way: the admin site, a
shell, a cascade from its workspace. The refusal is Django's kind (a ``ProtectedError``) with a
sentence, nothing is deleted, and the attempt is in the trail, written in a transaction of its
own although the deletion's rolled back (``documents.receivers``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client
from django.utils import timezone

from commonroom.accounts.tests.factories import UserFactory
from commonroom.audit.models import AuditEvent
from commonroom.documents import services
from commonroom.documents.exceptions import UnderRetention
from commonroom.documents.models import Document, Version
from commonroom.documents.receivers import refusals_recorded
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.workspaces.models import Workspace

pytestmark = pytest.mark.django_db(transaction=True)


def reopened_record(team: Any) -> Document:
    """Minutes whose version 2 became a record, reopened since: nothing protects the rows but
    the retention."""
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    new_version(team.editor, doc, b"agreed")
    with transaction.atomic():
        doc = Document.objects.get(pk=doc.pk)
        services.version_seal(actor=team.manager, document=doc, version=doc.versions.get(number=2))
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), reason="Redo"
    )
    return Document.objects.get(pk=doc.pk)


def refusals() -> list[AuditEvent]:
    refusals_recorded()
    return list(AuditEvent.objects.filter(action="record.purge_refused").order_by("seq"))


@pytest.mark.urls("commonroom.documents.tests.records_admin_urls")
def test_the_admin_site_cannot_delete_a_workspace_holding_a_record_under_retention(
    team: Any, settings: Any
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "none"
    doc = reopened_record(team)
    admin = UserFactory.create(email="dev@example.org", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    url = f"/admin/workspaces/workspace/{team.workspace.pk}/delete/"
    assert client.get(url).status_code == 200  # nothing the admin site can see protects it
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 409
    assert "is a final record, kept until" in response.content.decode()
    assert Workspace.objects.filter(pk=team.workspace.pk).exists()
    assert Document.objects.filter(pk=doc.pk).exists()
    assert Version.objects.filter(document=doc).count() == 2
    (event,) = refusals()
    assert event.workspace_id == team.workspace.pk
    assert event.document_id == doc.pk
    assert event.data["how"] == "delete"
    assert event.data["version"] == 2
    assert event.data["deleting"] == f"workspaces.Workspace {team.workspace.pk}"


@pytest.mark.parametrize("how", ["document", "version", "queryset", "workspace"])
def test_a_shell_cannot_delete_a_record_under_retention(team: Any, how: str) -> None:
    doc = reopened_record(team)
    record = doc.versions.get(number=2)
    delete = {
        "document": lambda: doc.delete(),
        "version": lambda: record.delete(),
        "queryset": lambda: Document.objects.filter(pk=doc.pk).delete(),
        "workspace": lambda: Workspace.objects.get(pk=team.workspace.pk).delete(),
    }[how]
    with pytest.raises(ProtectedError) as refused:
        delete()
    assert isinstance(refused.value, UnderRetention)
    assert Version.objects.filter(pk=record.pk).exists()
    assert Document.objects.filter(pk=doc.pk).exists()
    assert len(refusals()) == 1


def test_after_its_retention_a_record_can_be_deleted_like_any_row(team: Any) -> None:
    doc = reopened_record(team)
    Version.objects.filter(document=doc).update(record_at=timezone.now() - timedelta(days=3000))
    Document.objects.get(pk=doc.pk).delete()
    assert not Document.objects.filter(pk=doc.pk).exists()
    assert refusals() == []


def test_a_sealed_record_is_protected_by_its_document_even_without_retention(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"agreed").document
    Workspace.objects.filter(pk=team.workspace.pk).update(record_retention_years=0)
    with transaction.atomic():
        doc = Document.objects.get(pk=doc.pk)
        services.version_seal(actor=team.manager, document=doc, version=doc.versions.get(number=1))
    with pytest.raises(ProtectedError):
        Version.objects.filter(document=doc).delete()
    assert Version.objects.filter(document=doc).count() == 1
