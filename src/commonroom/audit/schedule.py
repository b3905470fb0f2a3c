"""The audit chains' checkpoint (see ``core.scheduling``): every
``COMMONROOM_HOUSEKEEPING_SECONDS`` and in every worker at its start, the chains' heads are tied
together, in the trail and in the checkpoint file outside the database. Once per machine: each
machine's file gets its lines, and two workers of one machine do not both write them. And as
often, the readings audited longer ago than the window are forgotten (``audit.services``)."""

from __future__ import annotations

from django.conf import settings

from commonroom.audit.services import audit_checkpoint, readings_audited_prune
from commonroom.core.scheduling import Job, every


def _housekeeping_seconds() -> float:
    return float(settings.COMMONROOM_HOUSEKEEPING_SECONDS)


JOBS = [
    Job(
        "audit-checkpoint",
        every(_housekeeping_seconds),
        audit_checkpoint,
        at_start=True,
        per_machine=True,
    ),
    # The readings audited longer ago than the window are of no more use (audit.services).
    Job("audit-readings-prune", every(_housekeeping_seconds), readings_audited_prune),
]
