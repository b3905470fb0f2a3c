"""The previews' scheduled housekeeping (see ``core.scheduling``), every
``COMMONROOM_HOUSEKEEPING_SECONDS`` and in every worker at its start: previews left pending with
no task are enqueued again (once per installation), and the converter work folders of this
machine's dead processes are removed (once per machine: they are on its disk)."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.scheduling import Job, every
from commonroom.previews.services import preview_work_sweep, previews_requeue_stuck


def _housekeeping_seconds() -> float:
    return float(settings.COMMONROOM_HOUSEKEEPING_SECONDS)


JOBS = [
    Job(
        "previews-requeue-stuck",
        every(_housekeeping_seconds),
        previews_requeue_stuck,
        at_start=True,
    ),
    Job(
        "preview-work-sweep",
        every(_housekeeping_seconds),
        preview_work_sweep,
        at_start=True,
        per_machine=True,
    ),
]
