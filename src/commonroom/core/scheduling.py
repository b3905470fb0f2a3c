"""Jobs on a timetable, run once per installation however many workers and machines run.

Each app lists its jobs in its own ``schedule.py`` (``JOBS``, a list of :class:`Job`), the way
Django's admin finds each app's ``admin.py``; :func:`jobs_all` collects them, so ``core`` names
no domain app. ``commonroom worker`` holds a :class:`Schedule`: at its start and then every few
seconds beside its tasks it asks each job for its latest due time (:func:`daily`,
:func:`every`) and, for a due time it has not seen yet, claims it (:func:`job_claim`).

What must always hold:

- **One run per due time.** The claim is a compare-and-set on the job's
  :class:`~commonroom.core.models.ScheduledJob` row: ``due_at`` is moved forward only while it
  is still before the due time. On PostgreSQL a second process's UPDATE waits for the first
  one's commit and then finds the condition false; on SQLite writers take turns (IMMEDIATE
  transactions). Exactly one process wins each due time; it alone runs the job.
- **A job that only enqueues** (``in_claim=True``: the daily digests, the pruning) does so in
  the claim's transaction: the claim and the task commit together or not at all.
- **Housekeeping** (``in_claim=False``) runs after the claim commits, in the worker that won
  it, so a slow sweep never holds a transaction open; if that worker dies mid-run the next due
  time does the work (each such job is safe to run twice). A job with ``at_start=True`` also
  runs in every worker when it starts, whoever holds the claim: a worker started again after a
  crash gives back its predecessor's task at once, not minutes later.
- **Per machine**: a job with ``per_machine=True`` (work folders on this machine's disk) is
  claimed under ``<name>@<machine>``: once per machine.
- **A new job starts counting now**: the first worker to meet a job records the latest due
  time without running it, so a new installation (or a new job) does not run at once; after
  that, a due time missed while no worker ran is run when the next worker starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from commonroom.core.models import ScheduledJob
from commonroom.core.process import machine

log = logging.getLogger("commonroom.schedule")

DueTime = Callable[[datetime], datetime]


@dataclass(frozen=True)
class Job:
    """``run`` is called once per due time; ``due(now)`` is the latest due time at or before
    ``now``."""

    name: str
    due: DueTime
    run: Callable[[], object]
    in_claim: bool = False
    at_start: bool = False
    per_machine: bool = False

    def __post_init__(self) -> None:
        if self.in_claim and self.at_start:
            raise ValueError(f"{self.name}: a job run in its claim is not also run at start")

    @property
    def key(self) -> str:
        return f"{self.name}@{machine()}" if self.per_machine else self.name


def daily(hour: Callable[[], int]) -> DueTime:
    """Due each day at ``hour()``:00 on the server's clock (``TIME_ZONE``), whatever the
    offset that day (the night the clocks change, still that hour on the wall clock)."""

    def due(now: datetime) -> datetime:
        local = timezone.localtime(now)
        at = local.replace(hour=hour(), minute=0, second=0, microsecond=0)
        if at > local:
            at -= timedelta(days=1)  # the same wall-clock hour the day before
        return at

    return due


def every(seconds: Callable[[], float]) -> DueTime:
    """Due every ``seconds()`` seconds, at whole multiples since the epoch: every process and
    machine computes the same due times."""

    def due(now: datetime) -> datetime:
        period = max(1.0, float(seconds()))
        stamp = now.timestamp()
        return datetime.fromtimestamp(stamp - stamp % period, tz=UTC)

    return due


def jobs_all() -> list[Job]:
    """The ``JOBS`` of every installed app's ``schedule`` module."""
    jobs: list[Job] = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "schedule"):
            jobs.extend(getattr(import_module(f"{config.name}.schedule"), "JOBS", []))
    names = [job.name for job in jobs]
    if len(names) != len(set(names)):
        raise RuntimeError(f"two scheduled jobs share a name: {sorted(names)}")
    return jobs


def job_claim(*, job: Job, due_at: datetime, by: str) -> bool:
    """Claim ``job``'s run due at ``due_at`` for ``by`` (a worker id). True for the one process
    that wins it; a job with ``in_claim`` has then run, in the claim's transaction."""
    now = timezone.now()
    with transaction.atomic():
        _, created = ScheduledJob.objects.get_or_create(
            name=job.key, defaults={"due_at": due_at, "run_by": "", "run_at": None}
        )
        if created:  # first met: counts from now, runs from the next due time
            return False
        won = ScheduledJob.objects.filter(name=job.key, due_at__lt=due_at).update(
            due_at=due_at, run_by=by, run_at=now
        )
        if won and job.in_claim:
            job.run()
    return bool(won)


class Schedule:
    """One worker's view of the timetable: which due time of each job it has already tried,
    so each due time costs each worker one claim attempt."""

    def __init__(
        self, jobs: list[Job], *, by: str, clock: Callable[[], datetime] = timezone.now
    ) -> None:
        self.jobs = jobs
        self.by = by
        self.clock = clock
        self.tried: dict[str, datetime] = {}

    def tick(self, *, starting: bool = False) -> list[str]:
        """Claim and run what is due. ``starting``: this worker's first tick, which also runs
        the ``at_start`` jobs. Returns the names of the jobs run here. A job that fails is
        logged; the others still run, and it is tried again at its next due time."""
        ran: list[str] = []
        now = self.clock()
        for job in self.jobs:
            due_at = job.due(now)
            if self.tried.get(job.key) == due_at and not starting:
                continue
            self.tried[job.key] = due_at
            try:
                won = job_claim(job=job, due_at=due_at, by=self.by)
                if (won and not job.in_claim) or (starting and job.at_start):
                    result = job.run()
                elif won:
                    result = None
                else:
                    continue
            except Exception:  # one job's failure must not stop the others, or the worker
                log.exception("schedule: %s (due %s) failed", job.key, due_at.isoformat())
                continue
            ran.append(job.name)
            # Housekeeping that did something (gave back tasks, removed folders) says so louder.
            done = result if isinstance(result, int) and not isinstance(result, bool) else 0
            log.log(
                logging.WARNING if done else logging.INFO,
                "schedule: ran %s due %s (%s)%s",
                job.key,
                due_at.isoformat(),
                ("claimed at start" if starting else "claimed") if won else "at start",
                f": {done} done" if done else "",
            )
        return ran
