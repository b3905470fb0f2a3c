"""Background work for approvals: tasks call one service and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from commonroom.approvals import records, services


@task()
def remind_due_approvals() -> int:
    """The daily reminders of requests due tomorrow or overdue (``approvals.schedule``)."""
    return services.approvals_remind_due()


@task()
def prepare_certificate(request_id: str) -> bool:
    """A sealed record's certificate made and kept (enqueued when its request is approved)."""
    return records.certificate_prepare(request_id=request_id)
