"""Whether a reading was audited within the window is read with SQL built once per process
(``core.prepared``): it answers what the ORM's query answers after rows are written, moved in
time and removed straight through the ORM, as another process writes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.audit.models import Action, AuditEvent, ReadingAudited
from commonroom.audit.services import READING_WINDOW, audit_record_reading

pytestmark = pytest.mark.django_db


def _read(team: Any, subject: str, user: Any = None) -> bool:
    """Whether a reading of ``subject`` wrote its audit event."""
    return (
        audit_record_reading(
            action=Action.DOCUMENT_VIEWED, actor=user or team.viewer, subject=subject
        )
        is not None
    )


def _orm_says(user: Any, subject: str) -> bool:
    since = timezone.now() - READING_WINDOW
    return ReadingAudited.objects.filter(
        actor_id=user.pk, action=Action.DOCUMENT_VIEWED, subject=subject, audited_at__gt=since
    ).exists()


def test_a_reading_audited_within_the_window_is_the_orms_answer_after_each_write(
    team: Any,
) -> None:
    assert not _orm_says(team.viewer, "doc:1")
    assert _read(team, "doc:1")  # the first reading writes its event
    assert _orm_says(team.viewer, "doc:1")
    assert not _read(team, "doc:1")  # within the window: none
    assert _read(team, "doc:2") and _read(team, "doc:1", team.editor)  # another subject, person
    # Moved out of the window by another process: audited again.
    ReadingAudited.objects.filter(actor_id=team.viewer.pk, subject="doc:1").update(
        audited_at=timezone.now() - READING_WINDOW - timedelta(seconds=1)
    )
    assert not _orm_says(team.viewer, "doc:1")
    assert _read(team, "doc:1")
    assert not _read(team, "doc:1")
    # Written just now by another process: not audited twice.
    ReadingAudited.objects.create(
        actor_id=team.viewer.pk,
        action=Action.DOCUMENT_VIEWED,
        subject="doc:3",
        audited_at=timezone.now(),
    )
    assert not _read(team, "doc:3")
    # Removed (pruned) by another process: audited again.
    ReadingAudited.objects.filter(subject="doc:3").delete()
    assert _read(team, "doc:3")
    assert (
        AuditEvent.objects.filter(action=Action.DOCUMENT_VIEWED, actor_id=team.viewer.pk).count()
        == 4
    )
