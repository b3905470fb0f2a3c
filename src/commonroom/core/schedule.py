"""Core's scheduled job (see ``core.scheduling``): the tasks left RUNNING by dead workers go back
to the queue, once per installation every ``COMMONROOM_HOUSEKEEPING_SECONDS``, and in every
worker at its start."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.scheduling import Job, every
from commonroom.core.services import tasks_requeue_abandoned


def _housekeeping_seconds() -> float:
    return float(settings.COMMONROOM_HOUSEKEEPING_SECONDS)


JOBS = [
    Job(
        "tasks-requeue-abandoned",
        every(_housekeeping_seconds),
        tasks_requeue_abandoned,
        at_start=True,
    ),
]
