"""Access that ends (see ``core.scheduling``): once per installation every housekeeping period,
memberships whose last day is over are removed (their sockets closed, audited) and people whose
access ends within a week are told, once per end date. Both are safe to run twice; the selectors
already refuse an ended membership before the job removes it."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.scheduling import Job, every
from commonroom.workspaces.services import memberships_access_end, memberships_access_notify


def _housekeeping_seconds() -> float:
    return float(settings.COMMONROOM_HOUSEKEEPING_SECONDS)


def access_end_dates() -> int:
    """Ended memberships removed, then the week-ahead notices sent: how many of each, added."""
    return memberships_access_end() + memberships_access_notify()


JOBS = [Job("workspace-access-end-dates", every(_housekeeping_seconds), access_end_dates)]
