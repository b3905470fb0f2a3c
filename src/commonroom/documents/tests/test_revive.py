"""document_revive: a deleter brings their own deletion back, moments later, when their client
saves over the name (WebDAV's save that deletes the original first)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import Conflict, NotFound, PermissionDenied
from commonroom.documents import services
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import access_for, doc_access_for, upload

pytestmark = pytest.mark.django_db


def _trashed(team: Any, by: Any) -> Document:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    services.document_delete(actor=by, doc_access=doc_access_for(by, doc))
    doc.refresh_from_db()
    return doc


def test_the_deleter_brings_it_back_with_its_history(team: Any) -> None:
    doc = _trashed(team, team.editor)
    services.document_revive(
        actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
    )
    doc.refresh_from_db()
    assert not doc.in_trash and doc.versions.count() == 1
    event = AuditEvent.objects.filter(action="document.restored").get()
    assert event.data == {"revived": True} and event.actor_id == team.editor.pk


def test_only_ones_own_deletion_and_only_moments_later(team: Any) -> None:
    doc = _trashed(team, team.manager)
    with pytest.raises(NotFound):
        services.document_revive(
            actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
        )
    Document.objects.filter(pk=doc.pk).update(
        deleted_at=timezone.now() - services.REVIVE_WINDOW - timedelta(seconds=1)
    )
    with pytest.raises(NotFound):
        services.document_revive(
            actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
        )


def test_not_when_the_name_was_taken_since_nor_by_a_reader(team: Any) -> None:
    doc = _trashed(team, team.editor)
    upload(team.manager, team.workspace, "minutes.txt", b"another")
    with pytest.raises(Conflict):
        services.document_revive(
            actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
        )
    with pytest.raises(PermissionDenied):
        services.document_revive(
            actor=team.viewer, access=access_for(team.viewer, team.workspace), document=doc
        )
