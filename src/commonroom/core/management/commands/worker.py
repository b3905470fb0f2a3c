"""``commonroom worker``: django-tasks-db's ``db_worker`` (same options), which also finishes what
dead workers left behind and runs the scheduled jobs. ``commonroom serve`` runs it;
``db_worker`` still works alone, without either.

It holds a lease in the database (renewed every ``RENEW_SECONDS``) by which the other workers,
on this machine or another, tell that it is alive; a clean stop gives the lease up. Beside the
tasks, a thread renews the lease and ticks the schedule (``core.scheduling``): every app's
``schedule.JOBS``, each due run claimed in the database so that one worker in the installation
runs it. Those jobs are the daily digests and the live event log's pruning (enqueued as tasks),
and every ``COMMONROOM_HOUSEKEEPING_SECONDS`` the housekeeping: tasks left RUNNING by dead
workers given back to the queue, previews left pending with no task enqueued again, and, once
per machine, the converter work folders of dead processes removed and the audit chains'
checkpoint written (in the trail and this machine's checkpoint file). The housekeeping also runs
in every worker when it starts, before its first task. ``--reload`` is accepted and ignored (a
reload would kill the task in hand).

PostgreSQL going away under a running worker (restarted, failed over) does not end it:
django-tasks-db's loop lets such an error end the process, so the loop is started again after
a pause, until the database answers; a task in hand then, whose end could not be recorded, is
given back to the queue (``core.services.task_give_back_own``). A worker that ended instead
would be started again by systemd, but only a few times in a row (its start limit), and not at
all by ``make topology``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any
from uuid import UUID

from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from commonroom.core.exceptions import database_unavailable_cause
from commonroom.core.scheduling import Schedule, jobs_all
from commonroom.core.services import (
    RENEW_SECONDS,
    task_give_back_own,
    worker_lease_release,
    worker_lease_renew,
    worker_lease_take,
)

log = logging.getLogger("commonroom.worker")

# Seconds between attempts while the database is out of reach.
OUTAGE_PAUSE = 2.0


class LeasedWorker(Worker):
    """django-tasks-db's worker, holding a lease and running the schedule while it runs, and
    riding out the database's outages."""

    # The task being run, until its end is recorded (None between tasks).
    in_hand: UUID | None = None

    def run_task(self, db_task_result: DBTaskResult) -> None:
        self.in_hand = db_task_result.pk
        record_failure = db_task_result.set_failed

        def set_failed(exc: BaseException) -> None:
            # A task cut off by the database going away is not a failure of the task: left
            # RUNNING, and raised on, so that the outage's handler gives it back to the queue
            # (recording it failed would succeed as soon as the pool had a new connection).
            if database_unavailable_cause(exc) is not None:
                raise exc
            record_failure(exc)

        db_task_result.set_failed = set_failed
        super().run_task(db_task_result)
        # Not reached when the database went away: the outage's handler gives it back.
        self.in_hand = None

    def run_through_outages(self) -> None:
        """django-tasks-db's loop, begun again whenever the database went away under it."""
        lost: UUID | None = None
        while True:
            try:
                if lost is not None:
                    task_give_back_own(task_id=lost, worker_id=self.worker_id)
                    lost = None
                super().run()
                return
            except Exception as exc:
                cause = database_unavailable_cause(exc)
                if not self.running or cause is None:
                    raise
                lost = lost or self.in_hand
                self.in_hand = None
                log.error(
                    "worker: the database cannot be reached (%s: %s); trying again in %s s",
                    type(cause).__name__,
                    " ".join(str(cause).split()),
                    OUTAGE_PAUSE,
                )
                # Its connection is broken: given back to the pool, which drops it.
                with contextlib.suppress(DatabaseError):
                    connection.close()
                time.sleep(OUTAGE_PAUSE)

    def run(self) -> None:
        worker_lease_take(worker_id=self.worker_id)
        schedule = Schedule(jobs_all(), by=self.worker_id)
        # Before the first claim: the dead workers' tasks come first in line.
        schedule.tick(starting=True)
        stop = threading.Event()
        beside = threading.Thread(
            target=self._beside, args=(stop, schedule), name="worker-lease", daemon=True
        )
        beside.start()
        stopped_cleanly = False
        try:
            self.run_through_outages()
            stopped_cleanly = True
        except SystemExit as exit_:
            # shutdown() exits from the signal handler between tasks (code 0); a second signal
            # exits inside a task (code 1), which is then recorded as failed.
            stopped_cleanly = not exit_.code
            raise
        finally:
            stop.set()
            beside.join(timeout=RENEW_SECONDS)
            if stopped_cleanly:
                close_old_connections()
                worker_lease_release(worker_id=self.worker_id)

    def _beside(self, stop: threading.Event, schedule: Schedule) -> None:
        """The heartbeat, then what the schedule says is due (the thread's own connection)."""
        try:
            while not stop.wait(RENEW_SECONDS):
                try:
                    worker_lease_renew(worker_id=self.worker_id)
                except Exception as exc:  # a database hiccup must not end the heartbeat
                    if (cause := database_unavailable_cause(exc)) is not None:
                        log.error(
                            "worker: renewing the lease failed: %s", " ".join(str(cause).split())
                        )
                    else:
                        log.exception("worker: renewing the lease failed")
                    close_old_connections()
                    continue
                schedule.tick()  # logs its own failures, job by job
        finally:
            connection.close()


class Command(DbWorkerCommand):
    help = "Run the background-task worker (db_worker), finishing what dead workers left behind."

    def handle(self, *args: Any, **options: Any) -> None:
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = [q for q in options["exclude_queues"].split(",") if q]
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = LeasedWorker(
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        worker.configure_signals()
        worker.run()
