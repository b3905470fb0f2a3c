"""The background-task workers that are alive, as each keeps saying in the database; and how far
each scheduled job has got (:class:`ScheduledJob`).

A worker (``commonroom worker``) holds a :class:`WorkerLease` while it runs and renews it every
few seconds. A task left RUNNING is given to another worker only once its worker is known dead:
on the same machine, its process is gone (pid and start time); elsewhere, its lease was not
renewed for ``LEASE_SECONDS`` (``core.services``). A task RUNNING under a live worker is never
taken from it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkerLease(models.Model):
    # django-tasks-db's worker id, which it appends to a task's worker_ids when it claims it.
    worker_id = models.CharField(max_length=64, primary_key=True)
    # Where the worker runs (core.process.machine) and which process it is there.
    machine = models.CharField(max_length=200)
    pid = models.IntegerField()
    process_started = models.BigIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    renewed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"worker {self.worker_id} (pid {self.pid})"


class ScheduledJob(models.Model):
    """Where one scheduled job (``core.scheduling``) has got to: the latest due time claimed,
    by which worker and when. Claiming the next due time is a compare-and-set on this row
    (``due_at`` moves forward only while it is still before that time), so one process in the
    whole installation runs each due run, however many workers and machines there are."""

    # The job's name; "<name>@<machine>" for a job run once per machine.
    name = models.CharField(max_length=300, primary_key=True)
    due_at = models.DateTimeField()
    run_by = models.CharField(max_length=64, blank=True)
    run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} (due {self.due_at:%Y-%m-%d %H:%M}, run by {self.run_by or 'none'})"
