"""Whether a reading was audited within the window is read with SQL built once per process
(``core.prepared``): it answers what the ORM's query answers after rows are written, moved in
time and removed straight through the ORM, as another process writes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.audit.models import Action, AuditEvent, ReadingAudited
from commonroom.audit.services import _AUDITED_SINCE, READING_WINDOW, audit_record_reading

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
    """The ORM's answer, checked equal to the prepared read's (each on its own, so that neither
    the claim after the read nor anything else decides the test)."""
    since = timezone.now() - READING_WINDOW
    orm = ReadingAudited.objects.filter(
        actor_id=user.pk, action=Action.DOCUMENT_VIEWED, subject=subject, audited_at__gt=since
    ).exists()
    prepared = _AUDITED_SINCE.count(
        actor_id=user.pk, action=str(Action.DOCUMENT_VIEWED), subject=subject, since=since
    )
    assert (prepared > 0) == orm
    return orm


def _read_again_writes_nothing(team: Any, subject: str) -> None:
    """Read again within the window: no event, and no write of any kind (not even a
    transaction opened): the prepared read alone answers."""
    with CaptureQueriesContext(connection) as queries:
        assert not _read(team, subject)
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_a_reading_audited_within_the_window_is_the_orms_answer_after_each_write(
    team: Any,
) -> None:
    assert not _orm_says(team.viewer, "doc:1")
    assert _read(team, "doc:1")  # the first reading writes its event
    assert _orm_says(team.viewer, "doc:1")
    _read_again_writes_nothing(team, "doc:1")  # within the window: none
    assert _read(team, "doc:2") and _read(team, "doc:1", team.editor)  # another subject, person
    # Moved out of the window by another process: audited again.
    ReadingAudited.objects.filter(actor_id=team.viewer.pk, subject="doc:1").update(
        audited_at=timezone.now() - READING_WINDOW - timedelta(seconds=1)
    )
    assert not _orm_says(team.viewer, "doc:1")
    assert _read(team, "doc:1")
    assert _orm_says(team.viewer, "doc:1")
    _read_again_writes_nothing(team, "doc:1")
    # Written just now by another process: not audited twice.
    ReadingAudited.objects.create(
        actor_id=team.viewer.pk,
        action=Action.DOCUMENT_VIEWED,
        subject="doc:3",
        audited_at=timezone.now(),
    )
    assert _orm_says(team.viewer, "doc:3")
    _read_again_writes_nothing(team, "doc:3")
    # Removed (pruned) by another process: audited again.
    ReadingAudited.objects.filter(subject="doc:3").delete()
    assert not _orm_says(team.viewer, "doc:3")
    assert _read(team, "doc:3")
    assert (
        AuditEvent.objects.filter(action=Action.DOCUMENT_VIEWED, actor_id=team.viewer.pk).count()
        == 4
    )
