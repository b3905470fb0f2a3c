"""Approvals really at once (two threads, two database connections, as two server processes):
the last two approvals of a request arriving at the same moment seal the record once and audit
it once; two runs of the daily reminders remind each request once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from commonroom.approvals import services
from commonroom.approvals.models import RequestState
from commonroom.approvals.tests.test_services import access, ask
from commonroom.audit.models import AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.core.exceptions import Conflict
from commonroom.core.tests.in_flight import one_after_another
from commonroom.documents.tests.factories import upload
from commonroom.notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def doc(team: Any) -> Any:
    return upload(team.manager, team.workspace, "minutes.txt", b"The minutes.").document


def approving(user: Any, doc: Any, request: Any) -> Any:
    return lambda: services.approval_decide(
        actor=user, doc_access=access(user, doc), request_id=request.pk, approve=True
    )


def test_the_last_two_approvals_at_once_seal_the_record_once(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter, team.manager)
    services.approval_decide(
        actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk,
        approve=True,
    )  # fmt: skip
    first, second, waited = one_after_another(
        approving(team.editor, doc, request),
        approving(team.commenter, doc, request),
        first_held_after='"approvals_approver"',
    )
    assert waited, "the second approval did not wait for the first"
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    request.refresh_from_db()
    doc.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert doc.sealed_version_id == request.version_id
    assert AuditEvent.objects.filter(action="document.sealed").count() == 1
    assert AuditEvent.objects.filter(action="approval.ended").count() == 1
    assert audit_verify().ok


def test_two_approvals_by_the_same_person_at_once_count_once(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    first, second, waited = one_after_another(
        approving(team.editor, doc, request),
        approving(team.editor, doc, request),
        first_held_after='"approvals_approver"',
    )
    assert waited
    assert first.decision == "approved"
    assert isinstance(second, Conflict) and second.code == "already_decided"
    request.refresh_from_db()
    assert request.is_open
    assert AuditEvent.objects.filter(action="approval.approved").count() == 1


def test_two_reminder_runs_at_once_remind_each_request_once(team, doc) -> None:
    ask(team, doc, team.editor, due_date=timezone.localdate() + dt.timedelta(days=1))
    first, second, waited = one_after_another(
        services.approvals_remind_due,
        services.approvals_remind_due,
        first_held_after='"approvals_approvalrequest"',
        nth=2,
    )
    assert waited
    assert sorted([first, second]) == [0, 1]
    assert Notification.objects.filter(dedupe_key__startswith="approval-reminder").count() == 1
