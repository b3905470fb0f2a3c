"""The background-task workers' bookkeeping: each one's lease, and the work of dead ones given
back to the queue.

A ``commonroom worker`` takes a :class:`~commonroom.core.models.WorkerLease` when it starts,
renews it every ``RENEW_SECONDS`` and gives it up when it stops cleanly. A task left RUNNING
(django-tasks-db marks a task RUNNING when a worker claims it and only its worker ever finishes
it) goes back to the queue when the worker that claimed it last is dead:

- on the same machine (``core.process.machine``): its process (pid and start time) is gone;
  the process table is the truth there, so a live worker is never judged dead for a slow
  heartbeat;
- on another machine: its lease was not renewed for ``LEASE_SECONDS`` (a worker cut off from
  the database that long is taken for dead, and its task may then run twice: tasks are written
  to be safe to run twice);
- a worker that never took a lease (bare ``db_worker``): its task has been RUNNING for
  ``UNLEASED_AFTER``.

A worker that lost the database in the middle of a task (PostgreSQL restarted) lives on, but
could not record how the task ended: it gives that task back itself once the database answers
again (:func:`task_give_back_own`).

Giving a task back is a compare-and-set under the task's row lock (skipped when another worker
holds it), so running it twice, or in two workers at once, gives each task back once. A task
whose workers died ``MAX_ATTEMPTS`` times is marked failed instead, so a task that kills its
worker cannot do so for ever.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from commonroom.core.models import WorkerLease
from commonroom.core.process import is_running, machine, process_started

log = logging.getLogger(__name__)

RENEW_SECONDS = 10.0
LEASE_SECONDS = 60.0
UNLEASED_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 3
WORKER_DIED = "commonroom.core.services.WorkerDied"


def worker_lease_take(*, worker_id: str) -> WorkerLease:
    """This process, the worker ``worker_id``, is alive: record it (or renew it)."""
    now = timezone.now()
    lease, _ = WorkerLease.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "machine": machine(),
            "pid": os.getpid(),
            "process_started": process_started(os.getpid()) or 0,
            "renewed_at": now,
        },
        create_defaults={
            "machine": machine(),
            "pid": os.getpid(),
            "process_started": process_started(os.getpid()) or 0,
            "started_at": now,
            "renewed_at": now,
        },
    )
    return lease


def worker_lease_renew(*, worker_id: str) -> None:
    """The heartbeat. A lease removed meanwhile (another worker took this one for dead, say
    after the database was out of reach for a minute) is taken again."""
    if not WorkerLease.objects.filter(worker_id=worker_id).update(renewed_at=timezone.now()):
        worker_lease_take(worker_id=worker_id)


def worker_lease_release(*, worker_id: str) -> None:
    """The worker stopped cleanly: it finished its task, nothing of it is left to give back."""
    WorkerLease.objects.filter(worker_id=worker_id).delete()


def worker_is_dead(
    lease: WorkerLease | None, *, claimed_at: datetime | None, now: datetime, here: str
) -> bool:
    """Whether the worker holding ``lease`` (``None``: it never took one) is dead, for a task
    it claimed at ``claimed_at``."""
    if lease is None:
        return claimed_at is None or claimed_at < now - UNLEASED_AFTER
    if lease.machine == here:
        return not is_running(lease.pid, lease.process_started)
    return lease.renewed_at < now - timedelta(seconds=LEASE_SECONDS)


def tasks_requeue_abandoned(*, now: datetime | None = None) -> int:
    """Give back to the queue the tasks left RUNNING by dead workers, and forget those
    workers' leases. Safe to run twice and in several workers at once. Returns how many tasks
    went back to the queue (those failed for good are not counted)."""
    now = now or timezone.now()
    here = machine()
    running = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list(
            "id", "worker_ids", "started_at"
        )
    )
    last_ids = {ids[-1] for _, ids, _ in running if ids}
    leases = {lease.worker_id: lease for lease in WorkerLease.objects.filter(pk__in=last_ids)}
    requeued = 0
    for task_id, worker_ids, started_at in running:
        worker_id = worker_ids[-1] if worker_ids else None
        lease = leases.get(worker_id) if worker_id else None
        if not worker_is_dead(lease, claimed_at=started_at, now=now, here=here):
            continue
        requeued += _give_back(task_id, worker_id)
    dead = [
        lease.worker_id
        for lease in WorkerLease.objects.all()
        if worker_is_dead(lease, claimed_at=None, now=now, here=here)
    ]
    if dead:
        WorkerLease.objects.filter(pk__in=dead).delete()
    return requeued


def task_give_back_own(*, task_id: UUID | str, worker_id: str) -> int:
    """The task ``worker_id`` had in hand when the database went away, back to the queue (it
    may have done part of its work: tasks are written to be safe to run twice). 1 if it went
    back, 0 if it had ended or been given back meanwhile."""
    return _give_back(task_id, worker_id, why=f"its worker {worker_id} lost the database")


def _give_back(task_id: UUID | str, worker_id: str | None, *, why: str = "") -> int:
    """One task back to READY, if it is still RUNNING under ``worker_id`` (checked under its
    row lock: another worker may have given it back and a third claimed it meanwhile)."""
    with transaction.atomic():
        task = (
            DBTaskResult.objects.select_for_update(skip_locked=True)
            .filter(pk=task_id, status=TaskResultStatus.RUNNING)
            .first()
        )
        if task is None or (task.worker_ids[-1] if task.worker_ids else None) != worker_id:
            return 0
        if len(task.worker_ids) >= MAX_ATTEMPTS:
            task.status = TaskResultStatus.FAILED
            task.finished_at = timezone.now()
            task.exception_class_path = WORKER_DIED
            task.traceback = (
                f"The worker running this task stopped before it finished, "
                f"{len(task.worker_ids)} times; it is not tried again."
            )
            task.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
            log.error(
                "task %s (%s) failed: its worker died %s times",
                task.pk,
                task.task_path,
                len(task.worker_ids),
            )
            return 0
        task.status = TaskResultStatus.READY
        task.started_at = None
        task.save(update_fields=["status", "started_at"])
        log.warning(
            "task %s (%s) given back: %s",
            task.pk,
            task.task_path,
            why or f"its worker {worker_id} died",
        )
        return 1
