"""Background work for notifications. Tasks take ids (or nothing), call one service, and are safe
to run twice."""

from __future__ import annotations

from django_tasks import task

from commonroom.notifications import services


@task()
def send_notification_emails(notification_ids: list[str]) -> int:
    """Email these notifications to people whose setting is "immediate" (enqueued on commit)."""
    return services.send_notification_emails(notification_ids)


@task()
def send_digests() -> int:
    """The daily digest (enqueued each day by the workers' schedule: ``notifications.schedule``;
    or run by ``commonroom digest``)."""
    return services.send_digests()
