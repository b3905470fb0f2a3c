"""Tasks left RUNNING by a dead worker go back to the queue; a live worker's never do."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from commonroom.core import services
from commonroom.core.models import WorkerLease
from commonroom.core.process import machine, process_started
from commonroom.live.tasks import prune_events


@pytest.fixture
def database_tasks(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def dead_process() -> tuple[int, int]:
    """The pid and start time of a real process that was running and has been killed."""
    process = subprocess.Popen(["sleep", "30"])
    started = process_started(process.pid)
    assert started is not None
    process.kill()
    process.wait()
    return process.pid, started


def running_task(worker_id: str, *, minutes_ago: int = 0) -> DBTaskResult:
    """A task claimed by ``worker_id`` (as django-tasks-db's worker claims one)."""
    row = DBTaskResult.objects.get(pk=prune_events.enqueue().id)
    row.claim(worker_id)
    if minutes_ago:
        row.started_at = timezone.now() - timedelta(minutes=minutes_ago)
        row.save(update_fields=["started_at"])
    return row


def lease(worker_id: str, pid: int, started: int, **fields: Any) -> WorkerLease:
    return WorkerLease.objects.create(
        worker_id=worker_id,
        machine=fields.pop("machine", machine()),
        pid=pid,
        process_started=started,
        **fields,
    )


def status(row: DBTaskResult) -> str:
    row.refresh_from_db()
    return str(row.status)


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_dead_workers_task_goes_back_a_live_ones_stays(dead_process: tuple[int, int]) -> None:
    lease("dead", *dead_process)
    mine = process_started(os.getpid())
    assert mine is not None
    lease("alive", os.getpid(), mine)
    orphaned, busy = running_task("dead"), running_task("alive")

    assert services.tasks_requeue_abandoned() == 1
    assert status(orphaned) == TaskResultStatus.READY
    orphaned.refresh_from_db()
    assert orphaned.started_at is None
    assert status(busy) == TaskResultStatus.RUNNING
    # The dead worker's lease is forgotten, the live one's kept.
    assert list(WorkerLease.objects.values_list("pk", flat=True)) == ["alive"]
    # Twice is harmless: nothing more goes back.
    assert services.tasks_requeue_abandoned() == 0
    assert status(orphaned) == TaskResultStatus.READY
    assert status(busy) == TaskResultStatus.RUNNING


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_pid_taken_by_another_process_is_still_a_dead_worker() -> None:
    """Same pid, other start time: the worker that held the lease is gone."""
    mine = process_started(os.getpid())
    assert mine is not None
    lease("before", os.getpid(), mine - 1)
    task = running_task("before")
    assert services.tasks_requeue_abandoned() == 1
    assert status(task) == TaskResultStatus.READY


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_another_machines_worker_is_dead_only_when_its_lease_ran_out() -> None:
    now = timezone.now()
    lease("there", 1, 1, machine="elsewhere", renewed_at=now - timedelta(seconds=20))
    task = running_task("there")
    assert services.tasks_requeue_abandoned() == 0  # its pid means nothing here
    assert status(task) == TaskResultStatus.RUNNING
    WorkerLease.objects.filter(pk="there").update(
        renewed_at=now - timedelta(seconds=services.LEASE_SECONDS + 1)
    )
    assert services.tasks_requeue_abandoned() == 1
    assert status(task) == TaskResultStatus.READY


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_task_of_a_worker_without_a_lease_goes_back_only_after_an_hour() -> None:
    """A bare ``db_worker`` keeps no lease: only a very old claim is taken for abandoned."""
    recent, old = (
        running_task("db_worker-1", minutes_ago=30),
        running_task("db_worker-2", minutes_ago=61),
    )
    assert services.tasks_requeue_abandoned() == 1
    assert status(recent) == TaskResultStatus.RUNNING
    assert status(old) == TaskResultStatus.READY


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_task_whose_workers_keep_dying_fails_instead(dead_process: tuple[int, int]) -> None:
    lease("third", *dead_process)
    task = running_task("third")
    task.worker_ids = ["first", "second", "third"]
    task.save(update_fields=["worker_ids"])
    assert services.tasks_requeue_abandoned() == 0
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    assert task.exception_class_path == services.WORKER_DIED
    assert "3 times" in task.traceback


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_task_claimed_again_meanwhile_is_left_to_its_new_worker(
    dead_process: tuple[int, int],
) -> None:
    """Another worker gave it back and a third claimed it between our look and our write: the
    compare-and-set under the row lock leaves it alone."""
    lease("dead", *dead_process)
    task = running_task("dead")
    task.status = TaskResultStatus.READY
    task.save(update_fields=["status"])
    task.claim("new")
    assert services._give_back(task.pk, "dead") == 0
    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING and task.worker_ids[-1] == "new"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_tasks")
def test_two_workers_starting_at_once_give_each_task_back_once(
    dead_process: tuple[int, int],
) -> None:
    lease("dead", *dead_process)
    tasks = [running_task("dead") for _ in range(20)]
    counts: list[int] = []
    ready = threading.Barrier(2)

    def start() -> None:
        try:
            ready.wait()
            counts.append(services.tasks_requeue_abandoned())
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == len(tasks), counts
    assert all(status(task) == TaskResultStatus.READY for task in tasks)


@pytest.mark.django_db
def test_the_lease_is_taken_renewed_and_given_up() -> None:
    lease_row = services.worker_lease_take(worker_id="w1")
    assert lease_row.pid == os.getpid() and lease_row.machine == machine()
    WorkerLease.objects.filter(pk="w1").update(renewed_at=timezone.now() - timedelta(hours=1))
    services.worker_lease_renew(worker_id="w1")
    assert WorkerLease.objects.get(pk="w1").renewed_at > timezone.now() - timedelta(minutes=1)
    WorkerLease.objects.all().delete()  # taken for dead by another worker meanwhile
    services.worker_lease_renew(worker_id="w1")
    assert WorkerLease.objects.filter(pk="w1").exists()
    services.worker_lease_release(worker_id="w1")
    assert not WorkerLease.objects.exists()


def _worker(worker_id: str) -> Any:
    from commonroom.core.management.commands.worker import LeasedWorker

    return LeasedWorker(
        queue_names=["default"],
        interval=1,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("database_tasks")
def test_a_task_cut_off_by_the_database_going_away_is_given_back_not_failed() -> None:
    """Recording the task failed would succeed as soon as the pool had a connection again, and
    a preview would stay failed for a restart; it is left running and raised on, and the
    outage's handler (run_through_outages) gives it back to the queue."""
    from django.db import OperationalError

    from commonroom.core.tests.outage_tasks import cut_off_by_the_database, fails_on_its_own

    worker = _worker("w-outage")
    row = DBTaskResult.objects.get(pk=cut_off_by_the_database.enqueue().id)
    row.claim("w-outage")
    with pytest.raises(OperationalError):
        worker.run_task(row)
    assert status(row) == TaskResultStatus.RUNNING
    assert worker.in_hand == row.pk  # what the outage's handler gives back
    assert services.task_give_back_own(task_id=row.pk, worker_id="w-outage") == 1
    assert status(row) == TaskResultStatus.READY

    # A task's own fault is still recorded as its failure.
    own = DBTaskResult.objects.get(pk=fails_on_its_own.enqueue().id)
    own.claim("w-outage")
    worker.run_task(own)
    assert status(own) == TaskResultStatus.FAILED
    assert worker.in_hand is None
