"""The live event log's daily pruning (see ``core.scheduling``): once per installation a day, at
``PRUNE_HOUR`` o'clock, the ``prune_events`` task is enqueued (in the claim's transaction)."""

from __future__ import annotations

from commonroom.core.scheduling import Job, daily
from commonroom.live.tasks import prune_events

PRUNE_HOUR = 3  # a quiet hour: the pruning deletes a day's worth of rows


def _prune_hour() -> int:
    return PRUNE_HOUR


JOBS = [Job("live-events-prune", daily(_prune_hour), prune_events.enqueue, in_claim=True)]
