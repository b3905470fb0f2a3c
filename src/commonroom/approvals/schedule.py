"""The daily reminders (see ``core.scheduling``): once per installation a day, at
``COMMONROOM_DIGEST_HOUR`` o'clock, approvers still to decide on a request due the next day, or
overdue, are reminded, each request once per kind of reminder, so an extra run is harmless."""

from __future__ import annotations

from django.conf import settings

from commonroom.approvals.tasks import remind_due_approvals
from commonroom.core.scheduling import Job, daily


def _hour() -> int:
    return int(settings.COMMONROOM_DIGEST_HOUR)


JOBS = [Job("approval-reminders", daily(_hour), remind_due_approvals.enqueue, in_claim=True)]
