"""Background work for live updates."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from commonroom.live.services import events_prune


@task()
def prune_events() -> int:
    """Drop events older than ``COMMONROOM_EVENT_DAYS`` (enqueued daily by the workers' schedule:
    ``live.schedule``)."""
    return events_prune(older_than=timedelta(days=settings.COMMONROOM_EVENT_DAYS))
